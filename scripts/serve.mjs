#!/usr/bin/env node
// serve.mjs — a tiny static server for the demo page (`make serve`, `npm run demo:web`) and the
// browser tests: the repository root, read-only, on 127.0.0.1. It sends the MIME types a browser
// insists on (.mjs as JavaScript, .wasm as application/wasm), COOP/COEP so the page is
// cross-origin isolated (which a threaded WebAssembly build needs for SharedArrayBuffer; not for a
// request with ?isolated=0, to try a page without),
// no-store so that a second load can only be served by the page's Cache API, never by the HTTP
// cache; it keeps a log of every request so a test can count what reached it. Extra routes serve
// fixed bytes (a truncated model, say) at a path that no file has, at full speed or throttled
// ({ bytes, bytesPerSecond }: a load slow enough to cancel), or a 404 where a file is (null: a
// script made unloadable); mounts serve a directory outside the root (or a hidden one) under a
// path prefix. isolate: false sends no COOP/COEP at all, as a plain static server.
//
//   node scripts/serve.mjs            # http://127.0.0.1:8080/ (PORT=... to change it)
//   const server = await startServer({ root, port: 0, routes: { '/test/cut.gguf': bytes }, mounts: { '/cache/': dir } });
//   server.url('/web/'); server.count('/models/x.gguf'); await server.close();
import http from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
};

const defined = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

const HEADERS = {
  'cache-control': 'no-store',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
};

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const THROTTLE_TICK_MS = 50;

// Writes bytes at about bytesPerSecond, a piece every tick, until done or the client leaves.
function sendThrottled(res, bytes, bytesPerSecond) {
  const piece = Math.max(1, Math.round((bytesPerSecond * THROTTLE_TICK_MS) / 1000));
  let sent = 0;
  const timer = setInterval(() => {
    if (res.destroyed || sent >= bytes.length) {
      clearInterval(timer);
      if (!res.destroyed) res.end();
      return;
    }
    res.write(bytes.subarray(sent, sent + piece));
    sent += piece;
  }, THROTTLE_TICK_MS);
  res.on('close', () => clearInterval(timer));
}

export async function startServer({ root = ROOT, port = 0, routes = {}, mounts = {}, isolate = true } = {}) {
  root = path.resolve(root);
  const log = [];

  async function handle(req, res) {
    const { pathname, searchParams } = new URL(req.url, 'http://localhost');
    const isolation =
      !isolate || searchParams.get('isolated') === '0'
        ? { 'cross-origin-opener-policy': undefined, 'cross-origin-embedder-policy': undefined }
        : {};
    const entry = { method: req.method, path: pathname, status: 0, time: Date.now() };
    log.push(entry);
    const send = (status, headers = {}, body) => {
      entry.status = status;
      res.writeHead(status, defined({ ...HEADERS, ...isolation, ...headers }));
      if (body === undefined || req.method === 'HEAD') res.end();
      else if (typeof body.pipe === 'function') body.pipe(res);
      else res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { allow: 'GET, HEAD' }, 'read-only\n');
    // the repository's page is web/; another root (a site) has its own index.html
    if (pathname === '/' && root === path.resolve(ROOT)) return send(302, { location: '/web/' });
    let decoded;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return send(400, {}, 'bad path\n');
    }
    if (decoded.endsWith('/')) decoded += 'index.html';
    const type = MIME[path.extname(decoded).toLowerCase()] ?? 'application/octet-stream';
    if (Object.hasOwn(routes, decoded)) {
      const route = routes[decoded];
      if (route === null) return send(404, {}, 'not found\n');
      const bytes = ArrayBuffer.isView(route) ? route : route.bytes;
      if (ArrayBuffer.isView(route) || req.method === 'HEAD')
        return send(200, { 'content-type': type, 'content-length': bytes.length }, bytes);
      entry.status = 200;
      res.writeHead(200, { ...HEADERS, 'content-type': type, 'content-length': bytes.length });
      return sendThrottled(res, bytes, route.bytesPerSecond);
    }
    const [prefix, dir] = Object.entries(mounts).find(([p]) => decoded.startsWith(p)) ?? ['/', root];
    const base = path.resolve(dir),
      rest = decoded.slice(prefix.length - 1);
    // no way out of the root, and nothing hidden (.git) served
    const file = path.resolve(base, '.' + rest);
    if (!file.startsWith(base + path.sep) || rest.split('/').some((s) => s.startsWith('.')))
      return send(404, {}, 'not found\n');
    let st;
    try {
      st = await stat(file);
    } catch {
      return send(404, {}, 'not found\n');
    }
    if (st.isDirectory()) return send(302, { location: pathname + '/' });
    if (!st.isFile()) return send(404, {}, 'not found\n');
    send(
      200,
      { 'content-type': type, 'content-length': st.size },
      req.method === 'HEAD' ? undefined : createReadStream(file),
    );
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) res.writeHead(500).end(String(e));
      else res.destroy(e);
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    log,
    url: (p) => origin + p,
    /** Requests (GET by default) that reached the server for a path. */
    count: (p, method = 'GET') => log.filter((e) => e.path === p && e.method === method).length,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = Number(process.env.PORT ?? 8080);
  try {
    const server = await startServer({ port });
    console.log(`ntk-wasm demo page: ${server.url('/web/')}   (Ctrl-C stops the server)`);
  } catch (e) {
    console.error(
      `serve: cannot listen on 127.0.0.1:${port}: ${e.code === 'EADDRINUSE' ? 'the port is in use (PORT=... picks another)' : e.message}`,
    );
    process.exit(1);
  }
}
