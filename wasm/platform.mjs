// platform.mjs — what differs between Node and the web, picked at run time: an engine's
// WebAssembly instance (instantiate), a file read by path (openFile), WorkerEngine's worker in Node
// (startWorker), and worker.mjs's port to its parent (connect). Node's are platform-node.mjs's,
// imported only in Node; the web's are platform-web.mjs's. Bundlers for the browser take
// platform-web.mjs in place of this module (package.json "browser"), so they never meet Node's
// modules; the repository's pages, unbundled, load this one.
import * as web from './platform-web.mjs';

const isNode = typeof process === 'object' && !!process.versions?.node;
let node = null;
const inNode =
  (name) =>
  async (...args) =>
    (await (node ??= import('./platform-node.mjs')))[name](...args);

export const instantiate = isNode ? inNode('instantiate') : web.instantiate;
export const openFile = isNode ? inNode('openFile') : web.openFile;
export const startWorker = isNode ? inNode('startWorker') : web.startWorker;
export const connect = isNode ? inNode('connect') : web.connect;
