// The one op plan helper every family uses: an op checked once, then run now or off the event loop with the caller's stack.

import { types } from 'util';
import { TraceCall, activeTracer } from './jit/hook';

export type { TraceCall } from './jit/hook';

/**
 * An op whose arguments are all checked: run() calls the native op now; runAsync() calls
 * its Promise variant, computed on qkernels' async job queue.
 */
export interface OpPlan<T> {
  run(): T;
  runAsync(caller: CallerStack): Promise<T>;
}

/** The JS stack of a public async call, captured before the native call (sharp-style). */
export interface CallerStack {
  stack?: string;
}

/** Captures the caller's stack, omitting `above` and everything it called. */
export function captureCaller(above: Function): CallerStack {
  const holder: CallerStack = {};
  Error.captureStackTrace(holder, above);
  return holder;
}

/**
 * A native rejection carries no JS frames (it settles from the event loop, not from a JS call), so its stack is
 * replaced by the caller's: the error then points at the line that called forwardAsync.
 * isNativeError, not instanceof: the addon makes its errors in the main realm, which is not
 * this module's under a vm context (jest).
 */
function withCallerStack(error: unknown, caller: CallerStack): unknown {
  if (types.isNativeError(error) && caller.stack !== undefined) {
    const frames = caller.stack.split('\n').slice(1).join('\n');
    error.stack = `${error.name}: ${error.message}\n${frames}`;
  }
  return error;
}

/**
 * An OpPlan from a native op's sync and async entry points and what turns their result into
 * the output. `async` is called by runAsync, which is when the native side copies (or takes)
 * its inputs: their values at call time. `trace` names the native op and its arguments for
 * jit.trace, which calls the op's trace form instead of `sync` while it records a forward.
 */
export function makePlan<R, T>(sync: () => R, async: () => Promise<R>, finish: (result: R) => T, trace: TraceCall): OpPlan<T> {
  return new NativePlan(sync, async, finish, trace);
}

/** makePlan's plan: its methods on the prototype, so a plan made per op call is one object, not three. */
class NativePlan<R, T> implements OpPlan<T> {
  constructor(
    private readonly sync: () => R,
    private readonly async: () => Promise<R>,
    private readonly finish: (result: R) => T,
    private readonly trace: TraceCall,
  ) {}

  run(): T {
    return this.finish(callOp(this.trace, this.sync));
  }

  runAsync(caller: CallerStack): Promise<T> {
    return this.async().then(this.finish, (error: unknown) => {
      throw withCallerStack(error, caller);
    });
  }
}

/** Calls a native op now: `sync`, or while jit.trace records a forward, the op's trace form (`trace`). */
export function callOp<R>(trace: TraceCall, sync: () => R): R {
  const tracer = activeTracer();
  return tracer === null ? sync() : (tracer.record(trace) as R);
}

/** Runs an async plan made by `plan`; argument errors (thrown while planning) reject the Promise rather than throw. */
export function runPlanAsync<T>(caller: CallerStack, plan: () => OpPlan<T>): Promise<T> {
  try {
    return plan().runAsync(caller);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** runPlanAsync with the stack captured here: `above` is the public async function the user called. */
export function planAsync<T>(above: Function, plan: () => OpPlan<T>): Promise<T> {
  return runPlanAsync(captureCaller(above), plan);
}

/**
 * The Promise form of an op computed in JS: computed now, from the inputs as they are at call
 * time (as the native-backed ops copy theirs), handed over settled; errors reject.
 */
export function atCallTime<T>(compute: () => T): Promise<T> {
  try {
    return Promise.resolve(compute());
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Float64Arrays of op parameters (geometries, qparams, sizes) shared between calls with equal
 * values. A typed array an op call makes costs twice: one of more than 8 doubles lives outside
 * V8's heap (making one per call was 7% of a maxPool2d call and work for every GC), and the
 * binding's napi_get_typedarray_info moves a small one out of the heap on first use (an
 * allocation and a copy). A shared array pays that once. The caller writes the values into its
 * scratch array and gets back a stored array holding the same values, made on the first call
 * with them. Nothing writes a stored array after it is made: the binding only reads parameter
 * arrays (and copies what a step or an async call keeps), and they never reach user code.
 * Matched on the values (never on the identity of an input's arrays) in a direct-mapped table:
 * a slot holds the last list whose values hashed to it.
 */
export class SharedParams {
  private readonly slots: (Float64Array | undefined)[];

  /** `slots`: a power of two. */
  constructor(slots: number) {
    this.slots = new Array<Float64Array | undefined>(slots);
  }

  /** A stored Float64Array equal to `values`' first `length` entries (made now when none is). */
  get(values: Float64Array, length: number): Float64Array {
    let hash = length;
    for (let k = 0; k < length; k++) {
      const v = values[k];
      // The integer part and 32 bits of the fraction (ToInt32 is defined for every double).
      hash = Math.imul(hash ^ (v | 0), 0x9e3779b1);
      hash = Math.imul(hash ^ ((v * 4294967296) | 0), 0x85ebca6b);
    }
    const slot = (hash ^ (hash >>> 15)) & (this.slots.length - 1);
    const stored = this.slots[slot];
    if (stored !== undefined && stored.length === length) {
      let same = true;
      // Object.is: -0 and +0 are different parameters, NaN equals NaN.
      for (let k = 0; k < length && same; k++) same = Object.is(stored[k], values[k]);
      if (same) return stored;
    }
    const made = values.slice(0, length);
    this.slots[slot] = made;
    return made;
  }
}

/** The process's shared parameter arrays (SharedParams), one table for every op family. */
export const sharedParams = new SharedParams(1024);

/**
 * sharedParams' array of the given values (up to 16), through one scratch array: for call sites
 * whose values are at hand as numbers.
 */
export function paramsOf(...values: number[]): Float64Array {
  if (values.length > paramScratch.length) return Float64Array.from(values);
  const scratch = paramScratch;
  for (let k = 0; k < values.length; k++) scratch[k] = values[k];
  return sharedParams.get(scratch, values.length);
}
const paramScratch = new Float64Array(16);
