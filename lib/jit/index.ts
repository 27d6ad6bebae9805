// jit.trace (torch.jit.trace): runs a forward once while recording each qkernels op into a native plan, and returns the TracedModule that runs it.

import { QTensor } from '../qtensor';
import { Tensor } from '../tensor';
import * as validate from '../validate';
import { withTracer } from './hook';
import { OutputSlot, OutputTemplate, PlanFigures, TracedInput, TracedModule, TracedTensor, adoptTracedModule, graphText } from './traced-module';
import { PLAN_ARRAY_TYPES, Recorder, arrayType, isTypedArray, raw } from './tracer';

export { TracedModule } from './traced-module';

/**
 * A TracedModule of this thread over a plan another thread traced: `shared` is what that
 * thread's `traced.share()` returned, posted here (worker_threads' postMessage or workerData).
 * The plan's steps and weights are not copied; each run takes its own arena, so all threads
 * may run it at once. Throws a RangeError once the sharing TracedModule is gone (disposed,
 * garbage-collected, or its thread exited).
 *
 * @example
 * // main thread
 * const traced = jit.trace(model, example);
 * worker.postMessage(traced.share());
 * // in the worker
 * parentPort.once('message', (shared) => { const m = jit.adopt(shared); m.forward(x); });
 */
export function adopt(shared: unknown): TracedModule {
  return adoptTracedModule(shared);
}
export type { FusionFigures, SharedTracedModule, TracedInput, TracedTensor } from './traced-module';

export interface TraceOptions {
  /**
   * Run the plan on the example and compare it with the traced forward's output, bit for bit
   * (default true; torch's check_trace).
   */
  checkTrace?: boolean;
  /**
   * More inputs (each a tensor, or an array for a forward of several) on which the plan must
   * give the eager forward's bits (torch's check_inputs): a forward whose ops or qparams depend
   * on values in a way the trace could not see fails here.
   */
  checkInputs?: readonly unknown[];
  /**
   * Apply the fusions that keep the unfused plan's bits (default true): a conv whose output
   * only a quantized add / add_relu / mul reads runs as one step with it (doc/trace.md).
   * `false` gives the plan of one step per recorded op.
   */
  fuse?: boolean;
}

type Forward = (...inputs: unknown[]) => unknown;

function isTensor(value: unknown): value is TracedTensor {
  return value instanceof Tensor || value instanceof QTensor;
}

/** The forward's inputs: one Tensor, QTensor or typed array (embedding indices), or an array of them (a forward of several). */
function inputList(value: unknown, parameter: string): TracedInput[] {
  const what = 'Tensor, QTensor, typed array or array of them (the forward\'s inputs)';
  const list = Array.isArray(value) ? validate.arrayOnce(value, parameter, what) : [value];
  if (list.length === 0) throw validate.invalidRange(what, parameter, value);
  list.forEach((x, i) => {
    const name = Array.isArray(value) ? `${parameter}[${i}]` : parameter;
    if (isTypedArray(x) && (PLAN_ARRAY_TYPES as readonly string[]).includes(arrayType(x))) {
      validate.attached(x, name);
      return;
    }
    if (!isTensor(x)) throw validate.invalidType(`Tensor or QTensor (or one of ${PLAN_ARRAY_TYPES.join(', ')})`, name, x);
    validate.attached(x.data, `${name}.data`);
  });
  return list as TracedInput[];
}

/** An input's storage: a tensor's data, or the typed array itself. */
function storageOf(input: TracedInput): ArrayBufferView {
  return isTensor(input) ? input.data : input;
}

/** What forward returned, as output slots of the plan (one per distinct value). */
function outputTemplate(result: unknown, path: string, slot: (tensor: TracedTensor, path: string) => OutputSlot): OutputTemplate {
  if (isTensor(result)) return slot(result, path);
  if (Array.isArray(result)) return result.map((item, i) => outputTemplate(item, `${path}[${i}]`, slot));
  if (result !== null && typeof result === 'object' && Object.getPrototypeOf(result) === Object.prototype) {
    const template: Record<string, OutputTemplate> = {};
    for (const [key, item] of Object.entries(result)) template[key] = outputTemplate(item, `${path}.${key}`, slot);
    return template;
  }
  throw new TypeError(
    `qkernels: jit.trace: the forward returned ${validate.describeValue(result)} at ${path}; ` +
      'a traced forward returns Tensors and QTensors (or arrays and plain objects of them)',
  );
}

function bytesOf(view: ArrayBufferView): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

/** Throws unless `got` (the plan's result) has `want`'s structure, metadata and bytes. */
function compareOutputs(want: unknown, got: unknown, on: string, path = 'output'): void {
  const differ = (why: string) =>
    new Error(
      `qkernels: jit.trace: the traced plan differs from the eager forward on ${on} at ${path} (${why}). The forward's ` +
        'ops, qparams or control flow depend on tensor values, or a step replays wrongly.',
    );
  if (isTensor(want)) {
    if (!isTensor(got)) throw differ('not a tensor');
    if (want.shape.join() !== got.shape.join() || want.strides.join() !== got.strides.join()) throw differ('shape or strides');
    if (want instanceof QTensor && (!(got instanceof QTensor) || want.dtype !== got.dtype)) throw differ('dtype');
    if (!bytesOf(want.data).equals(bytesOf(got.data))) throw differ('values');
    return;
  }
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) throw differ('structure');
    want.forEach((w, i) => compareOutputs(w, got[i], on, `${path}[${i}]`));
    return;
  }
  const g = got as Record<string, unknown>;
  for (const [key, w] of Object.entries(want as Record<string, unknown>)) compareOutputs(w, g[key], on, `${path}.${key}`);
}

/**
 * torch.jit.trace: runs `module.forward(...exampleInputs)` once, records every qkernels op it
 * calls with its prepared native state, and returns a TracedModule whose forward runs the
 * whole graph in one native call (forwardAsync: in one async job). `module` may also be a
 * plain function of tensors. Tensors the module holds become constants of the plan; an op
 * without a native step, a JS computation on traced tensors or a read of their values throws
 * an Error naming it.
 *
 * @example
 * const traced = jit.trace(model, example);
 * const logits = traced.forward(input);            // one N-API call
 * const again = await traced.forwardAsync(input);  // one async job
 */
export function trace(module: unknown, exampleInputs: unknown, options: TraceOptions = {}): TracedModule {
  let forward: Forward;
  let name: string;
  if (typeof module === 'function') {
    forward = module as Forward;
    name = module.name || 'function';
  } else if (module !== null && typeof module === 'object' && typeof (module as { forward?: unknown }).forward === 'function') {
    const m = module as { forward: Forward; getName?: () => string };
    forward = (...inputs) => m.forward(...inputs);
    name = typeof m.getName === 'function' ? m.getName() : m.constructor.name;
  } else {
    throw validate.invalidType('nn.Module (an object with a forward method) or function', 'module', module);
  }
  const examples = inputList(exampleInputs, 'exampleInputs');
  const opts = validate.options(options, 'options', ['checkTrace', 'checkInputs', 'fuse']);
  const fuse = opts.fuse === undefined ? true : validate.boolean(opts.fuse, 'options.fuse');
  const checkTrace = opts.checkTrace === undefined ? true : validate.boolean(opts.checkTrace, 'options.checkTrace');
  const checkInputs = opts.checkInputs === undefined ? [] : validate.arrayOnce(opts.checkInputs as unknown[], 'options.checkInputs', 'array of inputs');
  const checks = checkInputs.map((inputs, i) => inputList(inputs, `options.checkInputs[${i}]`));

  const recorder = new Recorder();
  let traced: TracedModule;
  let result: unknown;
  try {
    recorder.collectConstants(module);
    examples.forEach((x, i) => {
      const storage = storageOf(x);
      if (recorder.isTraced(storage)) throw validate.invalidRange('tensors with storage of their own (no two inputs share bytes)', `exampleInputs[${i}]`, x);
      recorder.addInput(storage);
    });
    result = withTracer(recorder, () => forward(...examples));
    if (result instanceof Promise) throw new TypeError('qkernels: jit.trace: the forward returned a Promise; jit.trace records a synchronous forward');
    const slots = new Map<number, number>();
    const outputIds: number[] = [];
    const template = outputTemplate(result, 'output', (tensor) => {
      const id = recorder.valueFor(tensor.data, "the forward's output");
      let slot = slots.get(id);
      if (slot === undefined) {
        slot = outputIds.length;
        slots.set(id, slot);
        outputIds.push(id);
        raw.planAddOutput(recorder.plan, id, arrayType(tensor.data));
      }
      return new OutputSlot(slot, tensor);
    });
    // planFinalize's fusion figures carry the fused (conv, add) value pairs, which only the graph text needs.
    const finalized = raw.planFinalize(recorder.plan, fuse) as PlanFigures & { fusion: { merged: Float64Array } };
    const { merged, ...fusion } = finalized.fusion;
    const figures: PlanFigures = { ...finalized, fusion };
    traced = new TracedModule({ name, plan: recorder.plan, examples, output: template, figures, graph: graphText(recorder.values, outputIds, merged) });
  } catch (error) {
    raw.releaseWeights(recorder.plan);
    throw error;
  }
  try {
    if (checkTrace) compareOutputs(result, traced.forward(...examples), 'the example input');
    checks.forEach((inputs, i) => compareOutputs(forward(...inputs), traced.forward(...inputs), `options.checkInputs[${i}]`));
  } catch (error) {
    traced.dispose();
    throw error;
  }
  return traced;
}
