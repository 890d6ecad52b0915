// One origin: the API prefix on the page's own origin; compiled in when the
// bake calls its own origin for the API.

// forward tells the Mastra server the viewer's origin: CloudFront sends the
// origin's own host, and the server builds callback URLs (SSO) from these.
function forward(req) {
  req.headers['x-forwarded-host'] = { value: req.headers.host ? req.headers.host.value : '' };
  req.headers['x-forwarded-proto'] = { value: 'https' };
  return req;
}
