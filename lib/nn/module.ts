// nn.Module: the base class of every qkernels module, with PyTorch's tree walk, state-dict keys and print(model) format.
//
// Children are the module's own enumerable properties that hold a Module, in the order they
// were assigned (as `self.conv = ...` registers a child in torch): no registration call.
// A property's name is its key: `this.skip_add = new nnq.QFunctional()` gives `skip_add.scale`.
//
// State dicts: stateDict() walks the tree depth-first, each module writing its own entries
// through saveToStateDict(dest, prefix) before its children (torch's _save_to_state_dict
// order). loadStateDict() runs in two phases so nothing is half-loaded: every module's
// loadFromStateDict(ctx, prefix) reads and validates its entries and returns a closure that
// applies them; only when no module reported an error (and, when strict, no key is missing or
// unexpected) are the closures run. All problems are reported together in one error.

import { atCallTime } from '../plan';
import type { StateDict, StateValue } from './state';
import { describeStateValue } from './state';
import * as validate from '../validate';

export type { StateDict, StateValue } from './state';

/** What loadStateDict returns when it does not throw (torch's _IncompatibleKeys). */
export interface IncompatibleKeys {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/**
 * What a module's loadFromStateDict reads the state dict through. `take(key)` returns the
 * entry (full key, prefix included) and marks it used, or records it as missing and returns
 * undefined; `read(key, parse)` takes it and runs `parse` on it, turning a thrown error into
 * a reported one (returns undefined then). `error(message)` reports any other problem.
 */
export interface LoadContext {
  readonly stateDict: ReadonlyMap<string, StateValue>;
  has(key: string): boolean;
  take(key: string): StateValue | undefined;
  takeOptional(key: string): StateValue | undefined;
  read<T>(key: string, parse: (value: StateValue) => T): T | undefined;
  error(message: string): void;
}

/** loadStateDict's error: the message lists every problem; the arrays hold them for code. */
export class StateDictError extends Error {
  constructor(
    moduleName: string,
    readonly missingKeys: string[],
    readonly unexpectedKeys: string[],
    readonly errors: string[],
  ) {
    super(stateDictErrorMessage(moduleName, missingKeys, unexpectedKeys, errors));
    this.name = 'StateDictError';
  }
}

// torch's own wording (RuntimeError from load_state_dict), so users recognise it.
function stateDictErrorMessage(moduleName: string, missing: string[], unexpected: string[], errors: string[]): string {
  const lines = [`Error(s) in loading state_dict for ${moduleName}:`];
  const quoted = (keys: string[]): string => keys.map((k) => `"${k}"`).join(', ');
  if (unexpected.length > 0) lines.push(`\tUnexpected key(s) in state_dict: ${quoted(unexpected)}. `);
  if (missing.length > 0) lines.push(`\tMissing key(s) in state_dict: ${quoted(missing)}. `);
  for (const error of errors) lines.push(`\t${error}`);
  return lines.join('\n');
}

/** Indents every line but the first by `spaces` (torch's _addindent). */
function addIndent(text: string, spaces: number): string {
  const lines = text.split('\n');
  if (lines.length === 1) return text;
  const pad = ' '.repeat(spaces);
  return [lines[0], ...lines.slice(1).map((line) => pad + line)].join('\n');
}

/**
 * The base class of every module. Subclass it, assign children as properties in the
 * constructor, and write `forward` (and `forwardAsync` to run off the event loop).
 *
 * @example
 * class Net extends nn.Module {
 *   quant = new nnq.Quantize(0.05, 128, 'quint8');
 *   conv = new nnq.Conv2d(3, 8, 3);
 *   forward(x: Tensor) { return this.conv.forward(this.quant.forward(x)); }
 * }
 * new Net().stateDict().keys(); // 'quant.scale', 'quant.zero_point', 'conv.weight', ...
 */
export class Module {
  /** torch's `training` flag; qkernels' quantized modules compute the same in both modes. */
  training = false;

  /** torch's `forward`: subclasses define it (the base throws, as torch's does). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  forward(...inputs: any[]): any {
    void inputs;
    throw new Error(`Module [${this.getName()}] is missing the required "forward" function`);
  }

  /**
   * `forward` as a Promise. Containers and qkernels' modules run each native op off the event
   * loop (qkernels' async job queue). This default, for a subclass that only defines `forward`, runs
   * `forward` now, on the event loop, and returns its result settled (errors reject): override
   * it with the children's forwardAsync and the `*Async` functionals to free the event loop.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  forwardAsync(...inputs: any[]): Promise<any> {
    return atCallTime(() => this.forward(...inputs));
  }

  /**
   * Frees the native memory of this module and of every descendant now, instead of when they
   * are garbage collected: containers, zoo models and your own subclasses dispose each child
   * (once, even when it is reachable twice), and the modules that own native memory (linear,
   * conv, embedding and bitorch layers) free it. Native work already queued by forwardAsync
   * finishes with the right answer. Afterwards `forward` throws and `forwardAsync` rejects
   * with a TypeError naming the module (`Expected Sequential that was not disposed for this
   * but received Sequential after dispose() ...`), as does any use of a disposed leaf's
   * weights; a forwardAsync already under way rejects so at its next child. Idempotent; also
   * run by `using` (Symbol.dispose). A child shared with another model is disposed for both.
   */
  dispose(): void {
    if (!validate.markDisposed(this)) return;
    for (const child of [...this.children()]) child.dispose();
  }

  [validate.disposeSymbol](): void {
    this.dispose();
  }

  /** The name print(model) shows: torch's class name (QuantizedConv2d, ...), by default this class's name. */
  getName(): string {
    return this.constructor.name;
  }

  /** The module's own settings shown inside its parentheses by toString (torch's extra_repr). */
  extraRepr(): string {
    return '';
  }

  /** The tree as PyTorch's print(model) shows it. */
  toString(): string {
    const extra = this.extraRepr();
    const extraLines = extra === '' ? [] : extra.split('\n');
    const childLines: string[] = [];
    for (const [name, child] of this.namedChildren()) {
      childLines.push(`(${name}): ${addIndent(child.toString(), 2)}`);
    }
    const lines = [...extraLines, ...childLines];
    let text = `${this.getName()}(`;
    if (lines.length > 0) {
      if (extraLines.length === 1 && childLines.length === 0) text += extraLines[0];
      else text += `\n  ${lines.join('\n  ')}\n`;
    }
    return `${text})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  /** The direct children with their names, in definition order. */
  *namedChildren(): IterableIterator<[string, Module]> {
    for (const name of Object.keys(this)) {
      const value = (this as Record<string, unknown>)[name];
      if (value instanceof Module) yield [name, value];
    }
  }

  /** The direct children, in definition order. */
  *children(): IterableIterator<Module> {
    for (const [, child] of this.namedChildren()) yield child;
  }

  /**
   * This module and every descendant with its dotted name ('' for this one), depth-first,
   * each module once even when reachable twice (as torch's named_modules).
   */
  *namedModules(prefix = '', memo: Set<Module> = new Set()): IterableIterator<[string, Module]> {
    if (memo.has(this)) return;
    memo.add(this);
    yield [prefix, this];
    for (const [name, child] of this.namedChildren()) {
      yield* child.namedModules(prefix === '' ? name : `${prefix}.${name}`, memo);
    }
  }

  /** This module and every descendant, depth-first. */
  *modules(): IterableIterator<Module> {
    for (const [, module] of this.namedModules()) yield module;
  }

  /** The descendant at a dotted path ('' is this module): `getSubmodule('layer1.0.conv1')`. */
  getSubmodule(target: string): Module {
    if (typeof target !== 'string') {
      throw new TypeError(validate.expected('a dotted module path (string)', 'target', `${String(target)} of type ${typeof target}`));
    }
    if (target === '') return this;
    let module: Module = this;
    const walked: string[] = [];
    for (const name of target.split('.')) {
      const child = module.childNamed(name);
      if (child === undefined) {
        const where = walked.length === 0 ? module.getName() : `${module.getName()} at '${walked.join('.')}'`;
        throw new RangeError(`${where} has no submodule '${name}' (getSubmodule('${target}'))`);
      }
      walked.push(name);
      module = child;
    }
    return module;
  }

  /** Sets `training` on this module and every descendant (torch's train()); returns this. */
  train(mode = true): this {
    for (const module of this.modules()) module.training = mode;
    return this;
  }

  /** train(false). */
  eval(): this {
    return this.train(false);
  }

  /**
   * Every entry with PyTorch's keys, in PyTorch's order: a module's own entries first, then
   * its children's with `name.` prefixed. Values are shared, not copied (torch's tensors
   * are the module's too); a module reachable under two names appears under both, as in torch.
   */
  stateDict(prefix = ''): StateDict {
    const dest: StateDict = new Map();
    for (const [modulePrefix, module] of this.stateWalk(prefix, [])) module.saveToStateDict(dest, modulePrefix);
    return dest;
  }

  /**
   * Loads entries with PyTorch's keys (a Map, or a plain object with the same keys). strict
   * (default): every key the modules expect must be there and no other. Shape, dtype and
   * value errors are always errors. Every problem is reported in one StateDictError, and on
   * error no module changes; otherwise returns the missing and unexpected keys (empty when strict).
   */
  loadStateDict(stateDict: ReadonlyMap<string, StateValue> | Readonly<Record<string, StateValue>>, options: { strict?: boolean } = {}): IncompatibleKeys {
    const entries = toStateMap(stateDict);
    if (options === null || typeof options !== 'object') {
      throw new TypeError(validate.expected('an options object ({ strict })', 'options', `${String(options)} of type ${typeof options}`));
    }
    const strict = options.strict ?? true;
    if (typeof strict !== 'boolean') {
      throw new TypeError(validate.expected('a boolean', 'options.strict', `${String(strict)} of type ${typeof strict}`));
    }
    const used = new Set<string>();
    const missingKeys: string[] = [];
    const errors: string[] = [];
    const context: LoadContext = {
      stateDict: entries,
      has: (key) => entries.has(key),
      take: (key) => {
        if (!entries.has(key)) {
          missingKeys.push(key);
          return undefined;
        }
        used.add(key);
        return entries.get(key);
      },
      takeOptional: (key) => {
        if (!entries.has(key)) return undefined;
        used.add(key);
        return entries.get(key);
      },
      read: (key, parse) => {
        const value = context.take(key);
        if (value === undefined) return undefined;
        try {
          return parse(value);
        } catch (error) {
          errors.push(`While copying "${key}" (${describeStateValue(value)}): ${(error as Error).message}`);
          return undefined;
        }
      },
      error: (message) => {
        errors.push(message);
      },
    };
    const apply: Array<() => void> = [];
    for (const [prefix, module] of this.stateWalk('', [])) {
      const step = module.loadFromStateDict(context, prefix);
      if (typeof step === 'function') apply.push(step);
    }
    const unexpectedKeys = [...entries.keys()].filter((key) => !used.has(key));
    if (errors.length > 0 || (strict && (missingKeys.length > 0 || unexpectedKeys.length > 0))) {
      throw new StateDictError(this.getName(), missingKeys, unexpectedKeys, errors);
    }
    // Everything validated: the closures only assign already-checked values.
    for (const step of apply) step();
    return { missingKeys, unexpectedKeys };
  }

  /**
   * Writes this module's own entries (not its children's) into `dest`, each key prefixed by
   * `prefix` (e.g. 'layer1.0.conv1.'). Override in modules that hold state.
   */
  protected saveToStateDict(dest: StateDict, prefix: string): void {
    void dest;
    void prefix;
  }

  /**
   * Reads and validates this module's own entries (keys `prefix + name`) through `ctx`,
   * without changing the module, and returns the closure that applies them (never throwing),
   * or nothing. Problems go to ctx (take/read/error), not thrown. Override with saveToStateDict.
   */
  protected loadFromStateDict(ctx: LoadContext, prefix: string): (() => void) | void {
    void ctx;
    void prefix;
  }

  /** The direct child called `name`, if any (containers with their own storage override namedChildren). */
  private childNamed(name: string): Module | undefined {
    for (const [childName, child] of this.namedChildren()) if (childName === name) return child;
    return undefined;
  }

  /**
   * Every module with its key prefix ('' for this one, then 'name.'), depth-first, own
   * entries before children. A module reachable under two names is visited under both, as
   * torch's state_dict and load_state_dict recurse without dedup; a cycle is an error.
   */
  private *stateWalk(prefix: string, path: Module[]): IterableIterator<[string, Module]> {
    if (path.includes(this)) {
      throw new RangeError(`${this.getName()} at '${prefix.slice(0, -1)}' contains itself: a module tree must not have cycles`);
    }
    yield [prefix, this];
    path.push(this);
    for (const [name, child] of this.namedChildren()) yield* child.stateWalk(`${prefix}${name}.`, path);
    path.pop();
  }
}

/** A Map, or a plain object's own entries as one, or a TypeError naming stateDict. */
function toStateMap(value: unknown): ReadonlyMap<string, StateValue> {
  if (value instanceof Map) {
    for (const key of value.keys()) {
      if (typeof key !== 'string') {
        throw new TypeError(validate.expected('string keys', 'stateDict', `key ${String(key)} of type ${typeof key}`));
      }
    }
    return value as ReadonlyMap<string, StateValue>;
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const prototype = Object.getPrototypeOf(value);
    if (prototype === Object.prototype || prototype === null) return new Map(Object.entries(value as Record<string, StateValue>));
  }
  throw new TypeError(validate.expected('a Map or a plain object of state-dict entries', 'stateDict', `${String(value)} of type ${typeof value}`));
}
