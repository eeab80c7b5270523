// chart.mjs — the effective RoPE base against tokens in context, as an SVG: the engine's scale
// events as dots, the dynamic NTK formula for the model's settings as a faint line behind them,
// the trained length as a dashed mark and the tokens now in context as a solid one. The y axis is
// logarithmic: past the trained length the base grows by orders of magnitude. The SVG carries
// data-points (dots drawn) and data-max-ctx (the longest context seen) for tests and for anyone
// reading the DOM.
const NS = 'http://www.w3.org/2000/svg';
const W = 320,
  H = 160,
  LEFT = 46,
  RIGHT = 8,
  TOP = 8,
  BOTTOM = 22;

/** base(L) (docs/DESIGN.md, Dynamic NTK): theta up to the trained length, then theta·(a·L/L0 − (a−1))^(d/(d−2)). */
export function ntkBase(L, { theta, factor, trainedCtx, headDim, mode }) {
  if (mode === 'none' || L <= trainedCtx) return theta;
  return theta * ((factor * L) / trainedCtx - (factor - 1)) ** (headDim / (headDim - 2));
}

function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

const compact = (v) =>
  v >= 1e6 ? `${+(v / 1e6).toPrecision(3)}M` : v >= 1e3 ? `${+(v / 1e3).toPrecision(3)}k` : `${+v.toPrecision(3)}`;

export class BaseChart {
  #svg;
  #points = new Map(); // nCtx → base
  #rope = null; // { theta, factor, trainedCtx, headDim, mode }
  #now = 0; // tokens in context
  #frame = 0;

  constructor(svg) {
    this.#svg = svg;
    this.#draw();
  }

  /** A new model (or new RoPE settings): forget the dots. */
  setModel(rope) {
    this.#rope = rope;
    this.#points.clear();
    this.#schedule();
  }

  /** Tokens in context now. */
  setContext(nCtx) {
    if (nCtx === this.#now) return;
    this.#now = nCtx;
    this.#schedule();
  }

  /** One scale event. Redraws at most once a frame: past the trained length every token brings one. */
  add({ nCtx, base }) {
    if (nCtx > 0) this.#points.set(nCtx, base);
    this.#schedule();
  }

  #schedule() {
    if (!this.#frame)
      this.#frame = requestAnimationFrame(() => {
        this.#frame = 0;
        this.#draw();
      });
  }

  #draw() {
    const svg = this.#svg,
      rope = this.#rope;
    svg.replaceChildren();
    const xs = [...this.#points.keys()].sort((a, b) => a - b);
    svg.dataset.points = String(xs.length);
    svg.dataset.maxCtx = String(xs.at(-1) ?? 0);
    if (!rope) {
      svg.append(el('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'axis' }, 'load a model'));
      return;
    }
    const xMax = Math.max(rope.trainedCtx * 2, Math.max(xs.at(-1) ?? 0, this.#now) * 1.1);
    const yMin = rope.theta;
    const yMax = Math.max(ntkBase(xMax, { ...rope, mode: 'consistent' }), ...this.#points.values(), yMin * 10);
    const x = (n) => LEFT + (n / xMax) * (W - LEFT - RIGHT);
    const y = (b) => H - BOTTOM - (Math.log(b / yMin) / Math.log(yMax / yMin)) * (H - TOP - BOTTOM);

    for (const b of [yMin, Math.sqrt(yMin * yMax), yMax]) {
      svg.append(el('line', { x1: LEFT, x2: W - RIGHT, y1: y(b), y2: y(b), class: 'grid' }));
      svg.append(el('text', { x: LEFT - 4, y: y(b) + 3, 'text-anchor': 'end', class: 'axis' }, compact(b)));
    }
    svg.append(el('line', { x1: LEFT, x2: W - RIGHT, y1: H - BOTTOM, y2: H - BOTTOM, class: 'frame' }));
    for (const n of [0, xMax / 2, xMax]) {
      const t = Math.round(n);
      svg.append(
        el(
          'text',
          { x: x(t), y: H - 6, 'text-anchor': n === 0 ? 'start' : n === xMax ? 'end' : 'middle', class: 'axis' },
          `${compact(t)}`,
        ),
      );
    }
    const tx = x(rope.trainedCtx);
    svg.append(el('line', { x1: tx, x2: tx, y1: TOP, y2: H - BOTTOM, class: 'trained' }));
    svg.append(el('text', { x: tx + 3, y: TOP + 9, class: 'axis' }, `trained ${compact(rope.trainedCtx)}`));

    if (this.#now > 0) {
      const nx = x(this.#now);
      svg.append(el('line', { x1: nx, x2: nx, y1: TOP + 12, y2: H - BOTTOM, class: 'now' }));
      const left = nx - LEFT > 50; // the label goes where there is room for it
      svg.append(
        el(
          'text',
          { x: left ? nx - 3 : nx + 3, y: TOP + 21, 'text-anchor': left ? 'end' : 'start', class: 'axis' },
          `now ${this.#now}`,
        ),
      );
    }

    const steps = 64,
      formula = [];
    for (let i = 0; i <= steps; i++) {
      const n = (xMax * i) / steps;
      formula.push(`${x(n).toFixed(1)},${y(ntkBase(n, rope)).toFixed(1)}`);
    }
    svg.append(el('polyline', { points: formula.join(' '), class: 'formula' }));

    const dots = el('g', { class: 'dots' });
    for (const n of xs)
      dots.append(el('circle', { cx: x(n).toFixed(1), cy: y(this.#points.get(n)).toFixed(1), r: 2.2 }));
    svg.append(dots);
  }
}
