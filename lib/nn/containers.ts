// nn.Sequential, nn.ModuleList and nn.ModuleDict: containers whose children are named by position or key, as in torch.

import { Module } from './module';
import * as validate from '../validate';

function checkModule(value: unknown, parameter: string): Module {
  if (value instanceof Module) return value;
  const shown = value === null ? 'null' : typeof value === 'object' ? `[object ${(value as object).constructor?.name ?? 'Object'}]` : String(value);
  throw new TypeError(validate.expected('an nn.Module', parameter, `${shown} of type ${typeof value}`));
}

/**
 * A container keeping its children in an ordered Map (so keys like '10' or '1' keep the
 * order they were added in, which object properties would not), with a non-enumerable
 * accessor per name: `seq[0]`, `dict.conv`.
 */
abstract class ContainerModule extends Module {
  /** The children by name, in order (torch's _modules). Not enumerable: not a child itself. */
  protected declare readonly store: Map<string, Module>;

  constructor() {
    super();
    Object.defineProperty(this, 'store', { value: new Map<string, Module>(), enumerable: false });
  }

  override *namedChildren(): IterableIterator<[string, Module]> {
    yield* this.store.entries();
  }

  /** Number of children. */
  get length(): number {
    return this.store.size;
  }

  [Symbol.iterator](): IterableIterator<Module> {
    return this.store.values();
  }

  /** Adds or replaces the child `name` (torch's add_module). */
  protected put(name: string, module: Module): void {
    this.store.set(name, module);
    // Accessor properties for names that do not shadow a method or property of the class.
    if (!(name in this) || Object.getOwnPropertyDescriptor(this, name)?.get !== undefined) {
      Object.defineProperty(this, name, {
        get: () => this.store.get(name),
        set: (value: unknown) => this.put(name, checkModule(value, name)),
        enumerable: false,
        configurable: true,
      });
    }
  }

  /** Renumbers positional children 0..n-1 after an insert or delete (as torch's ModuleList does). */
  protected renumber(modules: Module[]): void {
    for (const name of [...this.store.keys()]) {
      delete (this as Record<string, unknown>)[name];
    }
    this.store.clear();
    modules.forEach((module, i) => this.put(String(i), module));
  }

  /** The child at a position (negative counts from the end), or a RangeError. */
  protected positional(index: number): Module {
    const n = this.store.size;
    if (!Number.isInteger(index) || index < -n || index >= n) {
      throw new RangeError(validate.expected(`an integer index in [${-n}, ${n - 1}]`, 'index', `${String(index)} of type ${typeof index}`));
    }
    return [...this.store.values()][index < 0 ? index + n : index];
  }
}

/**
 * torch.nn.Sequential: runs its children in order, each output the next one's input.
 * `new nn.Sequential(a, b, c)` names them '0', '1', '2'; `new nn.Sequential(new Map([['conv', a], ...]))`
 * (or a plain object) keeps the given names.
 */
export class Sequential extends ContainerModule {
  readonly [index: number]: Module;

  constructor(...modules: Module[] | [ReadonlyMap<string, Module> | Record<string, Module>]) {
    super();
    const first: unknown = modules[0];
    if (modules.length === 1 && !(first instanceof Module) && first !== null && typeof first === 'object') {
      const entries = first instanceof Map ? [...first.entries()] : Object.entries(first as Record<string, unknown>);
      for (const [name, module] of entries) this.put(String(name), checkModule(module, `modules['${String(name)}']`));
    } else {
      (modules as unknown[]).forEach((module, i) => this.put(String(i), checkModule(module, `modules[${i}]`)));
    }
  }

  override getName(): string {
    return 'Sequential';
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override forward(input: any): any {
    let x = input;
    for (const module of this.store.values()) x = module.forward(x);
    return x;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override async forwardAsync(input: any): Promise<any> {
    let x = input;
    for (const module of this.store.values()) x = await module.forwardAsync(x);
    return x;
  }

  /** The child at a position (negative counts from the end). */
  at(index: number): Module {
    return this.positional(index);
  }

  /** A Sequential of the children in [start, end) (torch's seq[start:end]), names kept. */
  slice(start?: number, end?: number): Sequential {
    const entries = [...this.store.entries()].slice(start, end);
    return new Sequential(new Map(entries));
  }

  /** Appends a child named by its position; returns this. */
  append(module: Module): this {
    this.put(String(this.store.size), checkModule(module, 'module'));
    return this;
  }
}

/** torch.nn.ModuleList: children named '0', '1', ...; no forward of its own (iterate it in yours). */
export class ModuleList extends ContainerModule {
  readonly [index: number]: Module;

  constructor(modules: Iterable<Module> = []) {
    super();
    let i = 0;
    for (const module of modules) this.put(String(i), checkModule(module, `modules[${i++}]`));
  }

  override getName(): string {
    return 'ModuleList';
  }

  /** The child at a position (negative counts from the end). */
  at(index: number): Module {
    return this.positional(index);
  }

  /** Appends a child; returns this. */
  append(module: Module): this {
    this.put(String(this.store.size), checkModule(module, 'module'));
    return this;
  }

  /** Appends every module of `modules`; returns this. */
  extend(modules: Iterable<Module>): this {
    for (const module of modules) this.append(module);
    return this;
  }

  /** Inserts before position `index` and renumbers, as torch's insert. */
  insert(index: number, module: Module): void {
    const list = [...this.store.values()];
    const n = list.length;
    if (!Number.isInteger(index)) throw new TypeError(validate.expected('an integer', 'index', `${String(index)} of type ${typeof index}`));
    const at = index < 0 ? Math.max(0, n + index) : Math.min(index, n);
    list.splice(at, 0, checkModule(module, 'module'));
    this.renumber(list);
  }
}

/** torch.nn.ModuleDict: children by string key, in insertion order. */
export class ModuleDict extends ContainerModule {
  constructor(modules: ReadonlyMap<string, Module> | Record<string, Module> | Iterable<[string, Module]> = {}) {
    super();
    const entries = modules instanceof Map || Symbol.iterator in Object(modules) ? [...(modules as Iterable<[string, Module]>)] : Object.entries(modules);
    for (const [key, module] of entries) this.set(key, module);
  }

  override getName(): string {
    return 'ModuleDict';
  }

  /** The child under `key`, or undefined. */
  get(key: string): Module | undefined {
    return this.store.get(key);
  }

  /** Adds or replaces the child under `key`; returns this. */
  set(key: string, module: Module): this {
    if (typeof key !== 'string' || key === '' || key.includes('.')) {
      throw new TypeError(validate.expected(`a non-empty key without '.'`, 'key', `${String(key)} of type ${typeof key}`));
    }
    this.put(key, checkModule(module, `modules['${key}']`));
    return this;
  }

  has(key: string): boolean {
    return this.store.has(key);
  }

  /** Removes the child under `key` and returns it (torch's pop). */
  pop(key: string): Module | undefined {
    const module = this.store.get(key);
    if (module === undefined) return undefined;
    this.store.delete(key);
    if (Object.getOwnPropertyDescriptor(this, key)?.get !== undefined) delete (this as Record<string, unknown>)[key];
    return module;
  }

  keys(): IterableIterator<string> {
    return this.store.keys();
  }

  values(): IterableIterator<Module> {
    return this.store.values();
  }

  items(): IterableIterator<[string, Module]> {
    return this.store.entries();
  }
}
