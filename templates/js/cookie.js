// Signed session cookie for the gate (--auth cookie).

// cookieOK accepts an HS256 JWT (header.payload.signature) or a signed
// session (payload.signature), both base64url, payload JSON with exp.
async function cookieOK(c) {
  var p = c ? c.value.split('.') : [];
  if (p.length < 2 || p.length > 3) {
    return false;
  }
  var secret = await kv('cookie-secret');
  var body = p.slice(0, -1).join('.');
  if (!secret) {
    return false;
  }
  // A key that is not UTF-8 text is stored as hex:HEX (templates.kvsSecret).
  var key = secret.indexOf('hex:') === 0 ? Buffer.from(secret.slice(4), 'hex') : secret;
  var mac = crypto.createHmac('sha256', key).update(body).digest('base64');
  mac = mac.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  if (!same(mac, p[p.length - 1])) {
    return false;
  }
  try {
    if (p.length === 3 && JSON.parse(b64(p[0])).alg !== 'HS256') {
      return false;
    }
    var claims = JSON.parse(b64(p[p.length - 2]));
    var now = Date.now() / 1000;
    return typeof claims.exp === 'number' && claims.exp > now && !(claims.nbf > now);
  } catch (e) {
    return false;
  }
}

