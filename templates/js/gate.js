// Viewer-request gate for Mastra Studio on CloudFront (cloudfront-js-2.0).
//
// The build injects its configuration through esbuild's define; the names in
// capitals below are replaced by JSON literals, and branches for modes that
// are off disappear under minification. Keep this file inside what the
// runtime supports: no classes, destructuring, spread, default parameters,
// for-of, optional chaining or ??. The build rejects the output otherwise.

async function handler(event) {
  var req = event.request;
  if (API && (req.uri === API || req.uri.indexOf(API + '/') === 0)) {
    // One origin: the API behaviour forwards this to the Mastra server,
    // which authenticates its own calls (Basic credentials cached for
    // Studio's files would collide with the API's Authorization header),
    // so only the IP rule applies. The raw URI is matched, as CloudFront's
    // path patterns are: an encoded prefix is not the API and stays gated.
    return (CIDRS && !ipAllowed(event.viewer.ip) && answer(403, 'Forbidden')) || forward(req);
  }
  var path;
  try {
    // Match on the decoded path: S3 decodes %5F to _, so an encoded request
    // must not slip past the state-prefix check.
    path = decodeURIComponent(req.uri);
  } catch (e) {
    return answer(400, 'Bad Request');
  }
  if (path === BASE + REFRESH) {
    // The baked page's dev-reload script polls this forever; end it cheaply
    // and before auth, so a login page does not get a stream of 401s.
    return answer(204, 'No Content');
  }
  if (path === BASE + STATE || path.indexOf(BASE + STATE + '/') === 0) {
    return answer(404, 'Not Found');
  }
  if (PROBE && path === '/') {
    // Studio's first request is its origin's root, without credentials;
    // unless it answers 2xx, Studio shows its "instance URL" form.
    return (CIDRS && !ipAllowed(event.viewer.ip) && answer(403, 'Forbidden')) || answer(200, 'OK');
  }
  return (AUTH && (await authorize(event, req))) || route(req, path);
}

function route(req, path) {
  if (BASE && path === BASE) {
    var qs = query(req.querystring);
    return answer(301, 'Moved Permanently', { location: BASE + '/' + (qs ? '?' + qs : '') });
  }
  if (path.indexOf(BASE + '/') !== 0) {
    return answer(404, 'Not Found');
  }
  var rest = path.slice(BASE.length);
  if (PASS.indexOf(rest) >= 0) {
    return req;
  }
  var last = rest.slice(rest.lastIndexOf('/') + 1);
  // Route segments win over the dot rule: agent ids such as gpt-4.1 are
  // common in deep links. Any other dotted name is a file and must stay a
  // real 404 when missing, never index.html.
  if (rest === '/' || ROUTES.indexOf(rest.split('/')[1]) >= 0 || last.indexOf('.') < 0) {
    req.uri = BASE + '/index.html';
  }
  return req;
}

// query rebuilds the raw query string; CloudFront hands values over as sent.
function query(q) {
  var out = [];
  for (var k in q) {
    var vs = q[k].multiValue || [q[k]];
    for (var i = 0; i < vs.length; i++) {
      out.push(vs[i].value === '' ? k : k + '=' + vs[i].value);
    }
  }
  return out.join('&');
}

function answer(code, text, headers) {
  var h = { 'cache-control': { value: 'no-store' } };
  for (var k in headers) {
    h[k] = { value: headers[k] };
  }
  return { statusCode: code, statusDescription: text, headers: h, body: code === 204 || code === 301 ? '' : text };
}
