// events.mjs — the listeners of an engine's events, shared by Engine and WorkerEngine. There is
// one event, 'scale' ({ nCtx, base, factor, mode, trainedCtx, refresh }); a throwing listener does not
// stop the others or the engine.
import { NtkError } from './errors.mjs';

const EVENTS = ['scale'];

export class Listeners {
  #sets = new Map();

  /** Add fn for event; returns the function that removes it. */
  on(event, fn) {
    if (!EVENTS.includes(event)) throw new NtkError(`unknown event "${event}" (${EVENTS.join(', ')})`, 'ARG');
    if (typeof fn !== 'function') throw new NtkError('listener must be a function', 'ARG');
    if (!this.#sets.has(event)) this.#sets.set(event, new Set());
    this.#sets.get(event).add(fn);
    return () => this.off(event, fn);
  }

  off(event, fn) {
    this.#sets.get(event)?.delete(fn);
  }

  emit(event, value) {
    for (const fn of this.#sets.get(event) ?? []) {
      try {
        fn(value);
      } catch (err) {
        // a listener's error is its own: reported as uncaught, as an EventTarget would
        if (typeof globalThis.reportError === 'function') globalThis.reportError(err);
        else
          queueMicrotask(() => {
            throw err;
          });
      }
    }
  }

  clear() {
    this.#sets.clear();
  }
}
