// The recorder behind jit.trace: each op's trace form gives a plan step, and each typed array an op reads maps to a plan value (input, step output, view or constant).

import { types } from 'util';
import { addon } from '../native';
import { TraceCall, Tracer } from './hook';

/** The binding's trace and plan functions, looked up by name (lib/native.ts types only the eager ones). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const raw = addon as unknown as Record<string, (...args: any[]) => any>;

/** The element types a plan input or output may have (addon/plan.cc kArrayKinds). */
export const PLAN_ARRAY_TYPES = ['Uint8Array', 'Int8Array', 'Int32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array'] as const;

type Typed = ArrayBufferView;

/** A typed array (of any realm: jest runs lib in a vm context), not a DataView. */
export function isTypedArray(value: unknown): value is Typed {
  return types.isTypedArray(value);
}

/** Its constructor's name, realm-independent ('Uint8Array', ...). */
export function arrayType(array: Typed): string {
  return Object.prototype.toString.call(array).slice(8, -1);
}

/** What one plan value is, for the graph listing. */
export type ValueInfo =
  | { kind: 'input'; index: number; type: string; bytes: number }
  | { kind: 'constant'; type: string; bytes: number }
  | { kind: 'view'; base: number; offset: number; bytes: number }
  | { kind: 'step'; op: string; inputs: number[]; bytes: number };

/** A byte range of an ArrayBuffer that holds plan value `id`. */
interface Binding {
  id: number;
  start: number;
  end: number;
}

function range(array: Typed): [number, number] {
  return [array.byteOffset, array.byteOffset + array.byteLength];
}

/** The error of an op the plan cannot hold (computed in JS, or without a trace form). */
function unrecordable(op: string, why: string): Error {
  return new Error(`qkernels: jit.trace cannot record ${op}: ${why}`);
}

/**
 * Records one forward into a native plan (addon/plan.cc). Typed arrays are tracked by their
 * ArrayBuffer: the trace forms return fresh outputs, so a buffer holds one plan value, and a
 * typed array over part of it (a view, a chunk, a trimmed dense copy) is a plan view.
 */
export class Recorder implements Tracer {
  readonly plan: unknown = raw.planCreate();
  readonly values = new Map<number, ValueInfo>();
  private readonly bound = new Map<ArrayBufferLike, Binding[]>();
  /** Byte ranges the module held before the trace (and copies made from them): constants. */
  private readonly constantRanges = new Map<ArrayBufferLike, Array<[number, number]>>();
  private readonly constants = new Map<ArrayBufferLike, Binding[]>();
  private readonly views = new Map<string, number>();
  private inputCount = 0;

  // ---- inputs and constants -------------------------------------------------------------------

  /** Makes `array` (an example input's storage) plan input `index`; returns its value id. */
  addInput(array: Typed): number {
    const type = arrayType(array);
    const id = raw.planAddInput(this.plan, array.byteLength, type) as number;
    this.values.set(id, { kind: 'input', index: this.inputCount++, type, bytes: array.byteLength });
    this.bind(array, id);
    return id;
  }

  /** Takes every typed array reachable from `root` (a module's fields, its tensors, their qparams) as a constant the forward may read. */
  collectConstants(root: unknown): void {
    const seen = new Set<object>();
    const stack: unknown[] = [root];
    while (stack.length > 0 && seen.size < 1_000_000) {
      const value = stack.pop();
      if (value === null || typeof value !== 'object' || seen.has(value)) continue;
      seen.add(value);
      if (isTypedArray(value)) {
        this.addConstantRange(value);
        continue;
      }
      if (types.isMap(value)) {
        for (const [k, v] of value as Map<unknown, unknown>) stack.push(k, v);
      } else if (types.isSet(value)) {
        for (const v of value as Set<unknown>) stack.push(v);
      }
      // Own data properties only: an accessor could run code.
      for (const descriptor of Object.values(Object.getOwnPropertyDescriptors(value))) {
        if ('value' in descriptor) stack.push(descriptor.value);
      }
    }
  }

  private addConstantRange(array: Typed): void {
    const list = this.constantRanges.get(array.buffer) ?? [];
    list.push(range(array));
    this.constantRanges.set(array.buffer, list);
  }

  private isConstant(array: Typed): boolean {
    const [start, end] = range(array);
    return (this.constantRanges.get(array.buffer) ?? []).some(([s, e]) => s <= start && end <= e);
  }

  // ---- values ---------------------------------------------------------------------------------

  /** Records that `array`'s bytes hold value `id` (replacing what its range held). */
  bind(array: Typed, id: number): void {
    const [start, end] = range(array);
    const list = (this.bound.get(array.buffer) ?? []).filter((b) => b.end <= start || b.start >= end);
    list.push({ id, start, end });
    this.bound.set(array.buffer, list);
  }

  /** The binding whose range holds all of `array`'s bytes; throws when a binding holds only part. */
  private bindingOf(array: Typed, what: string): Binding | undefined {
    const [start, end] = range(array);
    const list = this.bound.get(array.buffer);
    if (list === undefined) return undefined;
    const whole = list.find((b) => b.start <= start && end <= b.end && (b.start < b.end || start === end));
    if (whole !== undefined) return whole;
    if (list.some((b) => b.start < end && start < b.end)) {
      throw new Error(`qkernels: jit.trace: ${what} reads bytes that span two traced tensors (storage assembled in JS)`);
    }
    return undefined;
  }

  /** Whether any of `array`'s bytes hold a traced value. */
  isTraced(array: Typed): boolean {
    const [start, end] = range(array);
    return (this.bound.get(array.buffer) ?? []).some((b) => (b.start < end && start < b.end) || (start === end && b.start <= start && start <= b.end));
  }

  /**
   * The plan value an op (`op`, for errors) reads as `array`: the input or step output whose
   * storage it is, a view of one, or a constant the module held; anything else was computed in
   * JS during the forward, which the plan could not repeat.
   */
  valueFor(array: unknown, op: string): number {
    if (!isTypedArray(array)) throw unrecordable(op, 'a step input is not a typed array');
    const binding = this.bindingOf(array, op);
    if (binding !== undefined) {
      const [start, end] = range(array);
      if (start === binding.start && end === binding.end) return binding.id;
      return this.view(binding.id, start - binding.start, end - start);
    }
    if (this.isConstant(array)) return this.constantValue(array);
    throw new Error(
      `qkernels: jit.trace: ${op} reads a tensor that the trace did not produce: it was computed in JS during the forward ` +
        '(a JS op, or a tensor made from values), or created outside the module. A traced plan holds only native ops on the ' +
        'traced inputs and the tensors the module holds (its attributes, taken as constants).',
    );
  }

  private view(base: number, offset: number, bytes: number): number {
    const key = `${base}:${offset}:${bytes}`;
    let id = this.views.get(key);
    if (id === undefined) {
      id = raw.planAddView(this.plan, base, offset, bytes) as number;
      this.values.set(id, { kind: 'view', base, offset, bytes });
      this.views.set(key, id);
    }
    return id;
  }

  private constantValue(array: Typed): number {
    const [start, end] = range(array);
    const list = this.constants.get(array.buffer) ?? [];
    const held = list.find((b) => b.start <= start && end <= b.end);
    if (held !== undefined) return start === held.start && end === held.end ? held.id : this.view(held.id, start - held.start, end - start);
    const id = raw.planAddConstant(this.plan, array) as number;
    this.values.set(id, { kind: 'constant', type: arrayType(array), bytes: array.byteLength });
    list.push({ id, start, end });
    this.constants.set(array.buffer, list);
    return id;
  }

  // ---- the Tracer hook ------------------------------------------------------------------------

  record(call: TraceCall): unknown {
    return this.recordStep(call).output;
  }

  private recordStep(call: TraceCall): { output: Typed; id: number } {
    const { op, args } = call;
    if (args === undefined) throw unrecordable(op, 'it has no native plan step');
    const trace = raw[`${op}Trace`];
    if (typeof trace !== 'function') throw unrecordable(op, `the addon has no ${op}Trace form`);
    const result = trace(...args) as { output: unknown; step: unknown; inputs: number[] };
    try {
      if (!isTypedArray(result.output)) throw unrecordable(op, 'its output is not a typed array');
      const inputs = result.inputs.map((index) => this.valueFor(args[index], op));
      const id = raw.planAddStep(this.plan, result.step, Float64Array.from(inputs)) as number;
      this.values.set(id, { kind: 'step', op, inputs, bytes: result.output.byteLength });
      this.bind(result.output, id);
      return { output: result.output, id };
    } finally {
      // The plan shares the step; the handle's hold on it (and its share of V8's accounting) ends here.
      raw.releaseWeights(result.step);
    }
  }

  read(what: string, ...arrays: readonly unknown[]): void {
    for (const array of arrays) {
      if (isTypedArray(array) && this.isTraced(array)) {
        throw new Error(
          `qkernels: jit.trace: ${what} reads the values of a traced tensor in JS. A traced plan runs native ops only, ` +
            "and a traced forward's control flow and qparams must not depend on tensor values.",
        );
      }
    }
  }

  inplace(what: string, target: Typed, source: Typed): void {
    const [start, end] = range(target);
    const binding = this.bindingOf(target, what);
    if (binding === undefined) {
      if (this.isConstant(target)) throw new Error(`qkernels: jit.trace: ${what} writes into a tensor the module holds (a constant of the plan)`);
      return; // a JS tensor written in place: whoever reads it is refused
    }
    if (binding.start !== start || binding.end !== end) {
      throw new Error(`qkernels: jit.trace: ${what} writes into part of a traced tensor, which a plan value cannot express`);
    }
    this.bind(target, this.valueFor(source, what));
  }

  constant(array: ArrayBufferView): void {
    this.addConstantRange(array);
  }

  copy(src: unknown, dst: unknown, layout: () => Float64Array): boolean {
    if (isTypedArray(dst) && this.isTraced(dst)) throw new Error('qkernels: jit.trace: a copy in JS writes into a traced tensor');
    if (!isTypedArray(src)) return false;
    if (!this.isTraced(src)) {
      // A copy of a constant (a broadcast or a layout change of a tensor the module holds) is one too.
      if (isTypedArray(dst) && this.isConstant(src)) this.addConstantRange(dst);
      return false;
    }
    const what = 'a strided copy of a traced tensor (contiguous(), a transpose or broadcast made dense, cat)';
    if (!isTypedArray(dst) || arrayType(dst) !== arrayType(src)) throw unrecordable(what, 'the copy is computed in JS');
    // The trace form refuses a copy that writes only part of dst (its result would depend on dst's earlier bytes).
    const { output, id } = this.recordStep({ op: 'elementwiseStridedCopy', args: [src, dst, layout()] });
    if (output !== dst) {
      new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength).set(new Uint8Array(output.buffer, output.byteOffset, output.byteLength));
      this.bind(dst, id);
    }
    return true;
  }
}
