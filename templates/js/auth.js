// Access control for the gate; compiled in when any --auth mode is on.

// authorize requires every enabled mode to pass: ip, then basic, then cookie.
async function authorize(event, req) {
  if (CIDRS && !ipAllowed(event.viewer.ip)) {
    return answer(403, 'Forbidden');
  }
  if (BASIC && !(await basicOK(req.headers.authorization))) {
    return answer(401, 'Unauthorized', { 'www-authenticate': 'Basic realm="' + BASIC.realm + '", charset="UTF-8"' });
  }
  if (COOKIE && !(await cookieOK(req.cookies[COOKIE.name]))) {
    var back = 'https://' + (req.headers.host ? req.headers.host.value : '') + req.uri;
    var qs = query(req.querystring);
    var to = COOKIE.login;
    if (COOKIE.param) {
      to += (to.indexOf('?') < 0 ? '?' : '&') + COOKIE.param + '=' + encodeURIComponent(back + (qs ? '?' + qs : ''));
    }
    return answer(302, 'Found', { location: to });
  }
  return null;
}

