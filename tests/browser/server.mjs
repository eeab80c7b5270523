// server.mjs — a tiny static server for the browser tests: the repository root, read-only, on
// 127.0.0.1 at an ephemeral port. It sends the MIME types a browser insists on (.mjs as JavaScript,
// .wasm as application/wasm), COOP/COEP so the page is cross-origin isolated (not for a request
// with ?isolated=0), no-store so that a
// second load can only be served by the page's Cache API, never by the HTTP cache; it keeps a log
// of every request so a test can count what reached it. Extra routes serve fixed bytes (a
// truncated model, say) at a path that no file has.
//
//   const server = await startServer({ root, routes: { '/test/cut.gguf': bytes } });
//   server.url('/tests/browser/index.html'); server.count('/models/x.gguf'); await server.close();
import http from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.gguf': 'application/octet-stream',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
};

const HEADERS = {
  'cache-control': 'no-store',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
};

const defined = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

export async function startServer({ root, routes = {} } = {}) {
  root = path.resolve(root);
  const log = [];

  async function handle(req, res) {
    const { pathname, searchParams } = new URL(req.url, 'http://localhost');
    const entry = { method: req.method, path: pathname, status: 0, time: Date.now() };
    log.push(entry);
    // ?isolated=0: a page without COOP/COEP, where SharedArrayBuffer (and threads) are not allowed
    const isolation = searchParams.get('isolated') === '0' ? { 'cross-origin-opener-policy': undefined, 'cross-origin-embedder-policy': undefined } : {};
    const send = (status, headers = {}, body) => {
      entry.status = status;
      res.writeHead(status, defined({ ...HEADERS, ...isolation, ...headers }));
      if (body === undefined || req.method === 'HEAD') res.end();
      else if (typeof body.pipe === 'function') body.pipe(res);
      else res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { allow: 'GET, HEAD' }, 'read-only\n');
    let decoded;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return send(400, {}, 'bad path\n');
    }
    const type = MIME[path.extname(decoded).toLowerCase()] ?? 'application/octet-stream';
    if (Object.hasOwn(routes, decoded)) {
      const bytes = routes[decoded];
      return send(200, { 'content-type': type, 'content-length': bytes.length }, bytes);
    }
    // no way out of the root, and nothing hidden (.git) served
    const file = path.resolve(root, '.' + decoded);
    if (!file.startsWith(root + path.sep) || decoded.split('/').some((s) => s.startsWith('.')))
      return send(404, {}, 'not found\n');
    let st;
    try {
      st = await stat(file);
    } catch {
      return send(404, {}, 'not found\n');
    }
    if (!st.isFile()) return send(404, {}, 'not found\n');
    send(200, { 'content-type': type, 'content-length': st.size }, req.method === 'HEAD' ? undefined : createReadStream(file));
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) res.writeHead(500).end(String(e));
      else res.destroy(e);
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    log,
    url: (p) => origin + p,
    /** Requests (GET by default) that reached the server for a path. */
    count: (p, method = 'GET') => log.filter((e) => e.path === p && e.method === method).length,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
