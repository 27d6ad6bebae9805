// The trace hook: what the op layer (lib/plan.ts, stridedCopy, the tensors' JS accessors) asks while jit.trace records a forward; no tracer, no effect.

/**
 * A native op as jit.trace records it: binding function `op` on `args`; its `<op>Trace` form
 * takes the same arguments. Without `args` the op is computed in JS, which no plan can hold.
 */
export interface TraceCall {
  readonly op: string;
  readonly args?: readonly unknown[];
}

/** What lib/jit/tracer.ts implements; every method may throw the error that names the op. */
export interface Tracer {
  /** Runs `call`'s trace form, records its step and returns its output as the sync form would. */
  record(call: TraceCall): unknown;
  /** JS code (`what`: the op or accessor) is about to read the values of `arrays`: an error if any is traced. */
  read(what: string, ...arrays: readonly unknown[]): void;
  /**
   * JS code (`what`) copied `source` into `target` in place (torch's inplace=True): the tracer
   * takes `target`'s storage as holding `source`'s value from here on.
   */
  inplace(what: string, target: ArrayBufferView, source: ArrayBufferView): void;
  /**
   * stridedCopy(src -> dst) with its merged layout (Float64Array [rank, sizes, srcStrides,
   * dstStrides]): true when the tracer recorded (and ran) the copy, false when the caller
   * copies as usual.
   */
  copy(src: unknown, dst: unknown, layout: () => Float64Array): boolean;
  /** JS code made `array` from shapes and arguments only (never tensor values): a plan constant when an op reads it. */
  constant(array: ArrayBufferView): void;
}

let active: Tracer | null = null;

/** The tracer recording now, or null (outside jit.trace). */
export function activeTracer(): Tracer | null {
  return active;
}

/** Runs `body` with `tracer` active; traces do not nest. */
export function withTracer<T>(tracer: Tracer, body: () => T): T {
  if (active !== null) throw new Error('qkernels: jit.trace was called inside a forward being traced (traces do not nest)');
  active = tracer;
  try {
    return body();
  } finally {
    active = null;
  }
}

/** Marks `array` (made from shapes and arguments, not from tensor values) as a constant of the plan being traced; returns it. */
export function traceConstant<T extends ArrayBufferView>(array: T): T {
  active?.constant(array);
  return array;
}

/** Throws while tracing when `arrays` hold traced values: JS code named `what` is about to read them. */
export function guardRead(what: string, ...arrays: readonly unknown[]): void {
  if (active !== null) active.read(what, ...arrays);
}
