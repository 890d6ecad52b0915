export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const path = url.pathname;
    if (PREFIX !== '' && (path === PREFIX || path.startsWith(PREFIX + '/'))) {
      return forward(request, url);
    }
    if (path === BASE + '/refresh-events') {
      // The dev server's reload stream: a 204 tells an EventSource to stop.
      return new Response(null, { status: 204, headers: { 'cache-control': 'no-store' } });
    }
    if (PREFIX !== '' && BASE !== '' && path === '/') {
      // Studio's root probe: it shows its "Mastra instance URL" form unless
      // GET / on its own origin answers 2xx.
      return new Response('Mastra Studio is at ' + BASE + '/\n', {
        headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
      });
    }
    // Pages applies _headers and _redirects to what env.ASSETS serves.
    return env.ASSETS.fetch(request);
  },
};

// forward sends the request on as it came, with the server's own Host and the
// page's host and scheme in X-Forwarded-Host/-Proto (the server builds its
// callback URLs from them), and returns the answer as it streams in: agent
// answers are server-sent events. Redirects go back to the browser.
function forward(request, url) {
  const headers = new Headers(request.headers);
  headers.delete('host');
  headers.set('x-forwarded-host', url.host);
  headers.set('x-forwarded-proto', url.protocol.slice(0, -1));
  return fetch(UPSTREAM + url.pathname + url.search, {
    method: request.method,
    headers,
    body: request.body,
    redirect: 'manual',
  });
}
