// Precompressed variants: compiled in when the bake has them. A file of
// ENC ({"/assets/": "main-X.js/style-Y.css", ...}, by directory under the
// base) goes to its variant (CODINGS: [coding, suffix], best first) when
// the viewer accepts that coding, else to the file itself. The function
// runs before the cache lookup, so the rewritten URI is the cache key and
// each encoding is cached apart; S3 serves each variant with the
// Content-Encoding publish stored.

function encode(req, rest) {
  var q = accepted(req.headers['accept-encoding']);
  var i = rest.lastIndexOf('/') + 1;
  var names = ENC[rest.slice(0, i)];
  var top = weight(q, 'identity');
  var suffix = '';
  if (names && ('/' + names + '/').indexOf('/' + rest.slice(i) + '/') >= 0) {
    for (var k = 0; k < CODINGS.length; k++) {
      var w = weight(q, CODINGS[k][0]);
      // Ties go to the earlier, smaller coding, also against identity.
      if (w > 0 && (w > top || (w === top && !suffix))) {
        top = w;
        suffix = CODINGS[k][1];
      }
    }
  }
  if (!suffix && top <= 0) {
    // identity;q=0 (or *;q=0) and no coding it accepts for this file.
    return answer(406, 'Not Acceptable');
  }
  req.uri += suffix;
  return req;
}

// accepted parses Accept-Encoding into {coding: q} (RFC 9110 12.5.3);
// members that do not parse are ignored, so they accept nothing.
function accepted(h) {
  var q = {};
  var items = h ? h.value.toLowerCase().split(',') : [];
  for (var i = 0; i < items.length; i++) {
    var m = items[i].match(/^\s*([a-z0-9!#$%&'*+.^_`|~-]+)\s*(?:;\s*q\s*=\s*(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)\s*)?$/);
    if (m) {
      q[m[1] === 'x-gzip' ? 'gzip' : m[1]] = m[2] === undefined ? 1 : +m[2];
    }
  }
  return q;
}

// weight is a coding's q: its own, else that of *, else 0, except that
// identity stays acceptable unless excluded: below every q a viewer can
// send (three decimals at most), so any coding it accepts wins. No header
// at all gets the file itself.
function weight(q, coding) {
  if (coding in q) {
    return q[coding];
  }
  if ('*' in q) {
    return q['*'];
  }
  return coding === 'identity' ? 1e-4 : 0;
}
