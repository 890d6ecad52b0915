// Shared by the auth modes that check secrets.

var crypto = require('crypto');

// same compares in time that depends only on the length of a, never on
// where the first difference is.
function same(a, b) {
  var d = a.length ^ b.length;
  for (var i = 0; i < a.length; i++) {
    d |= a.charCodeAt(i) ^ b.charCodeAt(i);
  }
  return d === 0;
}

// b64 decodes base64 or base64url into a binary string; the runtime's
// Buffer encodings differ from node's, so the gate carries its own. Linear
// in the input: bytes gather in chunks turned into strings once, because
// appending to a string copies it (quadratic under serve's goja runtime).
function b64(s) {
  var abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  var out = [];
  var chunk = [];
  var bits = 0;
  var acc = 0;
  s = s.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  for (var i = 0; i < s.length; i++) {
    var v = abc.indexOf(s.charAt(i));
    if (v < 0) {
      throw new Error('base64');
    }
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      chunk.push((acc >> bits) & 255);
    }
    if (chunk.length === 4096 || i === s.length - 1) {
      out.push(String.fromCharCode.apply(null, chunk));
      chunk = [];
    }
  }
  return out.join('');
}
