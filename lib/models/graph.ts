// One forward per zoo architecture, run either synchronously or off the event loop: forwards are generators of steps.
//
// torchvision's forward functions read like the paper; writing each twice (forward and
// forwardAsync) would make two copies to keep in step. Instead an architecture writes
// `*steps(x)` once, yielding each module call or functional op as a Step, and the base class
// drives the generator with the step's `run` (forward) or awaits its `runAsync` (forwardAsync).

import { Module } from '../nn/module';

/** One unit of work in a forward: the same computation, synchronous or as a promise. */
export interface Step<T = unknown> {
  run(): T;
  runAsync(): Promise<T>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyModule = { forward(...inputs: any[]): any; forwardAsync?(...inputs: any[]): Promise<any> };

/** A call of a child module's forward (its forwardAsync when run off the event loop). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function call<T = any>(module: AnyModule, ...inputs: unknown[]): Step<T> {
  return {
    run: () => module.forward(...inputs) as T,
    runAsync: () => (module.forwardAsync !== undefined ? module.forwardAsync(...inputs) : Promise.resolve().then(() => module.forward(...inputs))) as Promise<T>,
  };
}

/**
 * A method of a functional module (QFunctional.add, .cat, .addRelu, .mul): its `<name>Async`
 * twin when the module has one, otherwise the synchronous method on a later tick.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function method<T = any>(target: object, name: string, ...inputs: unknown[]): Step<T> {
  const methods = target as Record<string, (...args: unknown[]) => unknown>;
  return {
    run: () => methods[name](...inputs) as T,
    runAsync: () => {
      const twin = methods[`${name}Async`];
      if (typeof twin === 'function') return twin.apply(target, inputs) as Promise<T>;
      return Promise.resolve().then(() => methods[name](...inputs) as T);
    },
  };
}

/** Cheap JS-side work (a view, a mean over a few values): the same function both ways. */
export function compute<T>(fn: () => T): Step<T> {
  return { run: fn, runAsync: () => Promise.resolve().then(fn) };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Steps<T = any> = Generator<Step, T, any>;

/** The base of every zoo module: define `steps`, get `forward` and `forwardAsync` with the same bits. */
export abstract class GraphModule extends Module {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  protected abstract steps(...inputs: any[]): Steps;

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override forward(...inputs: any[]): any {
    const walk = this.steps(...inputs);
    let next = walk.next();
    while (!next.done) next = walk.next(next.value.run());
    return next.value;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override async forwardAsync(...inputs: any[]): Promise<any> {
    const walk = this.steps(...inputs);
    let next = walk.next();
    while (!next.done) next = walk.next(await next.value.runAsync());
    return next.value;
  }
}
