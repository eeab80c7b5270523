// sandbox.mjs — run a chat template (a program from the model file, so anyone's code) within limits:
// evaluation steps, wall time, the size of every value it builds and the length of every list.
// Over a limit the render stops where it is, with a TemplateBudget error naming the limit, so a
// template can neither hang the thread it runs on nor exhaust its memory.
//
// @huggingface/jinja's Interpreter is used as it is, through a subclass: every node it evaluates and
// every block it runs (a loop's body each time round) goes through evaluate/evaluateBlock, where
// the steps are counted, the clock read every CLOCK_EVERY steps and the result weighed. range() is
// the template's only way to make a list from a number: it is checked before it builds one.
//
// Attribute access on an undefined value is an error naming the value, as in transformers' jinja2
// sandbox (Jinja's default Undefined); the undefined value itself still prints as empty text.

/** Thrown when a render goes past one of its limits. */
export class TemplateBudget extends Error {}

/** Thrown when a template reads an attribute of an undefined value. */
export class TemplateUndefined extends Error {}

/**
 * The defaults. A real template with a 200-turn conversation takes under 1% of each (measured in
 * tests/chat-budget.test.mjs); the time limit is what stops a template whose steps are slow.
 *   steps: nodes evaluated + blocks run + list items and characters weighed
 *   ms:    wall time of the render
 *   chars: the largest value, in characters (a list or mapping counts its items' sizes)
 *   items: the longest list (transformers' sandbox refuses a range() over 100000 items)
 *   source: the template's own length in characters, checked before it is parsed (parsing takes
 *     about 1.5 µs a character and is not stopped otherwise; real templates are under 20 KiB)
 */
export const RENDER_LIMITS = Object.freeze({
  steps: 5_000_000,
  ms: 1000,
  chars: 1 << 20,
  items: 100_000,
  source: 1 << 16,
});

const CLOCK_EVERY = 256;

const str = (v) => (v?.type === 'StringValue' ? v.value : '');
const int = (v, otherwise) => (v?.type === 'IntegerValue' ? Math.max(0, v.value) : otherwise);
const count = (s, sub) => {
  let n = 0;
  for (let i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + sub.length)) n++;
  return n;
};

// The largest value s.replace(old, new[, count]) can make.
function replaceGrowth(s, [old, neu, n], kwargs) {
  const limit = int(n ?? kwargs.get('count'), Infinity);
  const found = str(old) === '' ? s.length + 1 : count(s, str(old));
  return s.length + Math.min(found, limit) * str(neu).length;
}

// The filters with arguments that make, in one step, a value much larger than their input: the
// largest value each can make, told before it runs (operand, positional and keyword arguments).
const GROWTH = {
  join: (self, operand, [sep], kwargs) =>
    self.size(operand) + (operand.value?.length ?? 0) * str(sep ?? kwargs.get('separator')).length,
  indent: (self, operand, [width], kwargs) =>
    str(operand).length + (count(str(operand), '\n') + 1) * int(width ?? kwargs.get('width'), 4),
  replace: (self, operand, args, kwargs) => replaceGrowth(str(operand), args, kwargs),
  tojson: (self, operand, args, kwargs) =>
    self.size(operand) * (1 + int(kwargs.get('indent'), 0) * self.depth(operand)),
};

// A node whose value is known: lets the interpreter's own methods run on a value evaluated here once.
class Given {
  constructor(value) {
    this.value = value;
  }
}

// Template text naming an expression, for messages.
function describe(node) {
  switch (node?.type) {
    case 'Identifier':
      return node.value;
    case 'MemberExpression':
      if (!node.computed) return `${describe(node.object)}.${node.property.value}`;
      if (node.property.type === 'StringLiteral') return `${describe(node.object)}['${node.property.value}']`;
      if (node.property.type === 'IntegerLiteral') return `${describe(node.object)}[${node.property.value}]`;
      return `${describe(node.object)}[...]`;
    case 'CallExpression':
      return `${describe(node.callee)}(...)`;
    default:
      return 'a value';
  }
}

const subclasses = new WeakMap();

/** The limited Interpreter class for a loaded @huggingface/jinja module. */
function limitedInterpreter(jinja) {
  let cls = subclasses.get(jinja);
  if (cls) return cls;
  cls = class LimitedInterpreter extends jinja.Interpreter {
    #limits;
    #steps = 0;
    #deadline;
    #sizes = new WeakMap(); // list or mapping → its size (they are not changed once made)
    #depths = new WeakMap(); // list or mapping → how deep lists and mappings nest in it
    #weighing = new Set(); // namespaces being weighed: a namespace can hold itself

    constructor(env, limits) {
      super(env);
      this.#limits = limits;
      this.#deadline = performance.now() + limits.ms;
    }

    /** Count n steps; past the step or time limit, stop the render. */
    charge(n = 1) {
      const before = this.#steps;
      this.#steps += n;
      if (this.#steps > this.#limits.steps) throw new TemplateBudget(`${this.#limits.steps} steps`);
      if (
        Math.floor(before / CLOCK_EVERY) !== Math.floor(this.#steps / CLOCK_EVERY) &&
        performance.now() > this.#deadline
      )
        throw new TemplateBudget(`${this.#limits.ms} ms`);
    }

    get steps() {
      return this.#steps;
    }

    evaluate(node, env) {
      if (node instanceof Given) return node.value;
      this.charge();
      const value = super.evaluate(node, env);
      this.#check(value);
      return value;
    }

    evaluateBlock(statements, env) {
      this.charge();
      const value = super.evaluateBlock(statements, env);
      this.#check(value);
      return value;
    }

    evaluateMemberExpression(expr, env) {
      const object = this.evaluate(expr.object, env);
      if (object?.type === 'UndefinedValue') {
        const name = expr.computed ? '[...]' : `.${expr.property.value}`;
        throw new TemplateUndefined(`'${describe(expr.object)}' is undefined (reading ${name})`);
      }
      const value = super.evaluateMemberExpression({ ...expr, object: new Given(object) }, env);
      if (object.type !== 'StringValue' || value.type !== 'FunctionValue' || value !== object.builtins.get('replace'))
        return value;
      // s.replace, called now or later: bounded as the replace filter is
      const Fn = value.constructor;
      return new Fn((args, scope) => {
        const kwargs = args.at(-1)?.type === 'KeywordArgumentsValue' ? args.at(-1).value : new Map();
        this.#within(replaceGrowth(object.value, args, kwargs));
        return value.value(args, scope);
      });
    }

    applyFilter(operand, filter, env) {
      const growth = filter.type === 'CallExpression' && Object.hasOwn(GROWTH, filter.callee?.value);
      if (!growth) return super.applyFilter(operand, filter, env);
      const [args, kwargs] = this.evaluateArguments(filter.args, env);
      this.#within(GROWTH[filter.callee.value](this, operand, args, kwargs));
      const given = [
        ...args.map((v) => new Given(v)),
        ...[...kwargs].map(([k, v]) => ({ type: 'KeywordArgumentExpression', key: { value: k }, value: new Given(v) })),
      ];
      return super.applyFilter(operand, { ...filter, args: given }, env);
    }

    #within(chars) {
      if (chars > this.#limits.chars) throw new TemplateBudget(`${this.#limits.chars} characters`);
    }

    #check(value) {
      if (Array.isArray(value?.value) && value.value.length > this.#limits.items)
        throw new TemplateBudget(`${this.#limits.items} items in a list`);
      this.#within(this.size(value));
    }

    /**
     * The characters a value prints as, roughly: a string's length; a list's or mapping's items and
     * keys. Lists share items, so [a, a] made again and again doubles in size at every step.
     */
    size(value) {
      switch (value?.type) {
        case 'StringValue':
          return value.value.length;
        case 'ArrayValue':
        case 'TupleValue':
        case 'ObjectValue':
        case 'KeywordArgumentsValue': {
          let size = this.#sizes.get(value);
          if (size === undefined) {
            size = this.#sizeOfItems(value.value);
            this.#sizes.set(value, size);
          }
          return size;
        }
        case 'NamespaceValue': {
          // changed by {% set ns.x = ... %}: weighed anew each time
          if (this.#weighing.has(value)) return 0;
          this.#weighing.add(value);
          try {
            return this.#sizeOfItems(value.value);
          } finally {
            this.#weighing.delete(value);
          }
        }
        default:
          return 1;
      }
    }

    #sizeOfItems(items) {
      const isMap = items instanceof Map;
      this.charge(isMap ? items.size : items.length);
      let size = 2;
      for (const item of items.values()) size += 1 + this.size(item);
      if (isMap) for (const key of items.keys()) size += key.length;
      return size;
    }

    /** How deep lists and mappings nest in a value (0 for a string or number). */
    depth(value) {
      const items = value?.value;
      if (!Array.isArray(items) && !(items instanceof Map)) return 0;
      let depth = this.#depths.get(value);
      if (depth !== undefined) return depth;
      if (this.#weighing.has(value)) return 0;
      this.#weighing.add(value);
      try {
        this.charge(Array.isArray(items) ? items.length : items.size);
        depth = 1;
        for (const item of items.values()) depth = Math.max(depth, 1 + this.depth(item));
      } finally {
        this.#weighing.delete(value);
      }
      // a namespace changes: only lists and mappings keep their depth
      if (value.type !== 'NamespaceValue') this.#depths.set(value, depth);
      return depth;
    }
  };
  subclasses.set(jinja, cls);
  return cls;
}

/**
 * Python's range() over integers, as a template sees it: refused before it is built if it would
 * be longer than the limit.
 */
export function limitedRange(limits) {
  return (start, stop, step = 1) => {
    if (stop === undefined) [start, stop] = [0, start];
    if (![start, stop, step].every(Number.isInteger)) throw new Error('range() arguments must be integers');
    if (step === 0) throw new Error('range() step must not be zero');
    const n = Math.max(0, Math.ceil((stop - start) / step));
    if (n > limits.items) throw new TemplateBudget(`${limits.items} items in a list`);
    return Array.from({ length: n }, (_, i) => start + i * step);
  };
}

/**
 * Run a parsed template in env (a jinja.Environment whose range is limitedRange(limits)) within
 * limits (RENDER_LIMITS by default). Returns { text, steps }; throws TemplateBudget past a limit,
 * TemplateUndefined for an attribute of an undefined value, and what the template or the
 * interpreter throws otherwise.
 */
export function runLimited(jinja, program, env, limits = RENDER_LIMITS) {
  const Interpreter = limitedInterpreter(jinja);
  const interpreter = new Interpreter(env, limits);
  const text = String(interpreter.run(program).value);
  return { text, steps: interpreter.steps };
}
