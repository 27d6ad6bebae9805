// TracedModule: a forward recorded by jit.trace as one native plan, run in one N-API call (forward) or one async job (forwardAsync).

import * as v8 from 'v8';

import { Module } from '../nn/module';
import { makePlan, planAsync } from '../plan';
import { QStorage } from '../native';
import { QDType, QTensor, Quantizer, metadataQTensor, quantizerOf, sameQParams, withStorage } from '../qtensor';
import { sameDims } from '../shape';
import { Tensor, makeTensor } from '../tensor';
import * as validate from '../validate';
import { PLAN_ARRAY_TYPES, ValueInfo, arrayType, isTypedArray, raw } from './tracer';

/** A forward's input or output tensor as traced: its metadata, which every run must match (inputs) or rebuild (outputs). */
export type TracedTensor = Tensor | QTensor;

/** A forward's input: a tensor, or a typed array an op reads directly (embedding indices and offsets). */
export type TracedInput = TracedTensor | ArrayBufferView;

/** An empty typed array of `array`'s kind. */
function emptyLike<T extends ArrayBufferView>(array: T): T {
  return new (array.constructor as new (length: number) => T)(0);
}

/** `input`'s metadata over empty storage: what a TracedModule keeps of a tensor (never its values). */
export function metadataOf<T extends TracedInput>(input: T): T {
  if (input instanceof QTensor) return withStorage(input, emptyLike(input.data)) as T;
  if (input instanceof Tensor) return makeTensor(emptyLike(input.data), input.shape, input.strides) as T;
  return emptyLike(input) as T;
}

/** One tensor of what forward returns: plan output `slot`, with `like`'s metadata (over empty storage). */
export class OutputSlot {
  readonly like: TracedTensor;
  constructor(readonly slot: number, tensor: TracedTensor) {
    this.like = metadataOf(tensor);
  }
}

/** What forward returns, with each tensor replaced by its output slot. */
export type OutputTemplate = OutputSlot | OutputTemplate[] | { [key: string]: OutputTemplate };

/** What jit.trace's fusions did (addon/plan.cc planFinalize). */
export interface FusionFigures {
  /** conv + add (+ relu) / mul pairs run as one step. */
  convAdd: number;
  /** The plan without fusion: its arena, intermediates and steps. */
  unfusedArenaBytes: number;
  unfusedIntermediateBytes: number;
  unfusedSteps: number;
}

export interface PlanFigures {
  /** Bytes of the one arena every run takes (intermediates and scratch, reused by liveness). */
  arenaBytes: number;
  /** The sum of every intermediate's bytes: what a forward without reuse would allocate. */
  intermediateBytes: number;
  steps: number;
  fusion: FusionFigures;
}

/** The parts jit.trace (or jit.adopt) hands over. */
export interface TracedParts {
  name: string;
  plan: unknown;
  /** The example inputs (their metadata is kept; adopt passes metadata over empty storage). */
  examples: readonly TracedInput[];
  /** Each input's storage bytes (the examples' unless given). */
  inputBytes?: readonly number[];
  output: OutputTemplate;
  figures: PlanFigures;
  graph: string;
}

/**
 * What TracedModule.share() returns: a plain object to post to a worker_thread, where
 * jit.adopt(shared) makes a TracedModule over the same native plan. Only `token` matters: the
 * plan and its input/output description stay in the addon, under that number, while the
 * sharing TracedModule is alive.
 */
export interface SharedTracedModule {
  readonly kind: 'qkernels.TracedModule';
  readonly token: number;
}

/** Plan values as the graph listing names them; `merged` pairs (conv value, add value) fused into one step. */
export function graphText(values: ReadonlyMap<number, ValueInfo>, outputIds: readonly number[], merged: Float64Array): string {
  const v = (id: number) => `%${id}`;
  const fusedInto = new Map<number, number>();
  const fusedFrom = new Map<number, number>();
  for (let i = 0; i + 1 < merged.length; i += 2) {
    fusedInto.set(merged[i], merged[i + 1]);
    fusedFrom.set(merged[i + 1], merged[i]);
  }
  const inputs: string[] = [];
  const lines: string[] = [];
  for (const [id, info] of [...values].sort((a, b) => a[0] - b[0])) {
    switch (info.kind) {
      case 'input':
        inputs.push(`${v(id)} : ${info.type}(${info.bytes} bytes)`);
        break;
      case 'constant':
        lines.push(`  ${v(id)} = constant : ${info.type}(${info.bytes} bytes)`);
        break;
      case 'view':
        lines.push(`  ${v(id)} = view(${v(info.base)}, offset=${info.offset}, bytes=${info.bytes})`);
        break;
      case 'step': {
        const into = fusedInto.get(id);
        const from = fusedFrom.get(id);
        const note = into !== undefined ? ` (fused into ${v(into)}: no buffer)` : from !== undefined ? ` (fused: runs ${v(from)}'s ${values.get(from)?.kind === 'step' ? (values.get(from) as { op: string }).op : 'step'} first)` : '';
        lines.push(`  ${v(id)} = ${info.op}(${info.inputs.map(v).join(', ')}) : ${info.bytes} bytes${note}`);
        break;
      }
    }
  }
  return [`graph(${inputs.join(', ')}):`, ...lines, `  return (${outputIds.map(v).join(', ')})`].join('\n');
}

/**
 * A module's forward as one native plan (torch.jit.trace's result). forward(x) runs every
 * recorded op in one native call; forwardAsync(x) runs them in one async job off the event
 * loop (several may be in flight on one plan: each run takes its own arena). Inputs must
 * have the traced examples' shape, strides, dtype and qparams.
 */
export class TracedModule extends Module {
  /** Bytes of the arena each run uses (intermediates and scratch, reused by liveness). */
  readonly arenaBytes: number;
  /** The sum of all intermediates' bytes, for comparison with arenaBytes. */
  readonly intermediateBytes: number;
  /** The recorded plan, one value a line (torch's TracedModule.graph); fused steps are marked. */
  readonly graph: string;
  /** What the fusions did: how many, and the plan's figures without them (all 0 fusions with `fuse: false`). */
  readonly fusion: Readonly<FusionFigures>;
  private plan: unknown;
  private readonly originalName: string;
  private readonly examples: readonly TracedInput[];
  private readonly inputBytes: readonly number[];
  private readonly output: OutputTemplate;
  private readonly stepCount: number;

  /** @internal made by jit.trace and jit.adopt. */
  constructor(parts: TracedParts) {
    super();
    this.plan = parts.plan;
    this.originalName = parts.name;
    this.examples = parts.examples.map(metadataOf);
    this.inputBytes = parts.inputBytes ?? parts.examples.map((x) => (x instanceof Tensor || x instanceof QTensor ? x.data : x).byteLength);
    this.output = parts.output;
    this.arenaBytes = parts.figures.arenaBytes;
    this.intermediateBytes = parts.figures.intermediateBytes;
    this.stepCount = parts.figures.steps;
    this.fusion = Object.freeze({ ...parts.figures.fusion });
    this.graph = parts.graph;
    // Internal state stays out of the module tree and the state dict.
    for (const field of ['plan', 'originalName', 'examples', 'inputBytes', 'output', 'stepCount']) {
      Object.defineProperty(this, field, { enumerable: false });
    }
  }

  /** The traced forward, in one native call. */
  override forward(...inputs: unknown[]): any { // eslint-disable-line @typescript-eslint/no-explicit-any
    return this.runPlan(inputs).run();
  }

  /** The traced forward off the event loop, in one async job; inputs are read at call time. */
  override forwardAsync(...inputs: unknown[]): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    return planAsync(this.forwardAsync, () => this.runPlan(inputs));
  }

  /**
   * The plan for other worker_threads: post the returned object to a worker and call
   * `jit.adopt(shared)` there to get a TracedModule that runs this same native plan (its steps
   * and prepacked weights are not copied; every run, on any thread, takes its own arena). The
   * token works while this TracedModule lives: after its dispose(), its garbage collection or
   * the exit of the thread that traced it, adopt refuses it; modules already adopted keep
   * working. Calling share() again returns the same token.
   */
  share(): SharedTracedModule {
    const plan = this.plan;  // after dispose(), reading it throws the TypeError naming this module
    const metadata = {
      name: this.originalName,
      examples: this.examples.map(describeInput),
      inputBytes: [...this.inputBytes],
      output: describeTemplate(this.output),
      figures: { arenaBytes: this.arenaBytes, intermediateBytes: this.intermediateBytes, steps: this.stepCount, fusion: this.fusion },
      graph: this.graph,
    };
    const token = raw.planShare(plan, new Uint8Array(v8.serialize(metadata))) as number;
    return Object.freeze({ kind: 'qkernels.TracedModule' as const, token });
  }

  /** Frees the plan (its steps, prepacked weights and arenas); later calls throw. */
  override dispose(): void {
    validate.disposeOnce(this, ['plan'], () => raw.releaseWeights(this.plan));
  }

  override getName(): string {
    return 'TracedModule';
  }

  override extraRepr(): string {
    const f = this.fusion;
    return (
      `original_name=${this.originalName}, steps=${this.stepCount}, arenaBytes=${this.arenaBytes}, intermediateBytes=${this.intermediateBytes}, ` +
      `fusions=${f.convAdd}, unfused=(steps=${f.unfusedSteps}, arenaBytes=${f.unfusedArenaBytes}, intermediateBytes=${f.unfusedIntermediateBytes})`
    );
  }

  private runPlan(inputs: readonly unknown[]) {
    const data = this.checkInputs(inputs);
    const plan = this.plan;
    return makePlan(
      () => raw.planRun(plan, ...data) as ArrayBufferView[],
      () => raw.planRunAsync(plan, ...data) as Promise<ArrayBufferView[]>,
      (outputs) => rebuild(this.output, outputs),
      { op: 'a TracedModule (traced plans do not nest)' },
    );
  }

  /** The storage of each input, after checking it against the traced example. */
  private checkInputs(inputs: readonly unknown[]): ArrayBufferView[] {
    const count = this.examples.length;
    if (inputs.length !== count) {
      throw new RangeError(validate.expected(`${count} input(s) (the traced forward's)`, 'inputs', `${inputs.length}`));
    }
    return this.examples.map((example, i) => checkInput(example, this.inputBytes[i], inputs[i], count === 1 ? 'input' : `inputs[${i}]`));
  }
}

function typedArrayElementBytes(array: ArrayBufferView): number {
  return (array as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
}

/** input's storage when it matches the example's type, shape, strides, storage bytes, dtype and qparams. */
function checkInput(example: TracedInput, bytes: number, input: unknown, name: string): ArrayBufferView {
  if (!(example instanceof Tensor || example instanceof QTensor)) {
    const type = arrayType(example);
    if (!isTypedArray(input) || arrayType(input) !== type) throw validate.invalidType(`${type} (the traced example is one)`, name, input);
    validate.attached(input, name);
    if (input.byteLength !== bytes) throw validate.invalidRange(`${type} of ${bytes / typedArrayElementBytes(example)} elements (the traced example's)`, name, input);
    return input;
  }
  const quantized = example instanceof QTensor;
  if (quantized ? !(input instanceof QTensor) : !(input instanceof Tensor)) {
    throw validate.invalidType(quantized ? 'QTensor (the traced example is one)' : 'Tensor (the traced example is one)', name, input);
  }
  const x = input as TracedTensor;
  validate.attached(x.data, `${name}.data`);
  if (!sameDims(x.shape, example.shape)) throw validate.invalidRange(`shape [${example.shape.join(', ')}] (the traced example's)`, name, input);
  if (!sameDims(x.strides, example.strides)) {
    throw validate.invalidRange(`strides [${example.strides.join(', ')}] (the traced example's layout; use contiguous(memoryFormat))`, name, input);
  }
  if (x.data.byteLength !== bytes) {
    throw validate.invalidRange(`storage of ${bytes / typedArrayElementBytes(x.data)} elements (the traced example's)`, `${name}.data`, x.data);
  }
  if (quantized) {
    const q = x as QTensor;
    const e = example as QTensor;
    if (q.dtype !== e.dtype) throw validate.invalidType(`QTensor of dtype ${e.dtype} (the traced example's)`, name, input);
    if (!sameQParams(q, e)) throw validate.invalidRange(`QTensor with the traced example's qscheme and qparams (${e.qscheme})`, name, input);
  }
  return x.data;
}

/** The forward's result over the plan's outputs. */
function rebuild(template: OutputTemplate, outputs: readonly ArrayBufferView[]): unknown {
  if (Array.isArray(template)) return template.map((t) => rebuild(t, outputs));
  if (template instanceof OutputSlot) {
    const { like, slot } = template;
    const storage = outputs[slot];
    return like instanceof QTensor ? withStorage(like, storage as QTensor['data']) : makeTensor(storage as Float32Array, like.shape, like.strides);
  }
  const object: Record<string, unknown> = {};
  for (const [key, t] of Object.entries(template as Record<string, OutputTemplate>)) object[key] = rebuild(t, outputs);
  return object;
}

// ---- share / adopt: the TracedModule's metadata as plain data ---------------------------------

/** A traced input or output's metadata as structured-clone data (no class instances). */
type TensorDescription =
  | { kind: 'qtensor'; shape: number[]; strides: number[]; dtype: QDType; quantizer: Quantizer; storage: string }
  | { kind: 'tensor'; shape: number[]; strides: number[] }
  | { kind: 'array'; type: string };

type TemplateDescription =
  | { kind: 'slot'; slot: number; like: TensorDescription }
  | { kind: 'list'; items: TemplateDescription[] }
  | { kind: 'record'; entries: [string, TemplateDescription][] };

function describeInput(x: TracedInput): TensorDescription {
  if (x instanceof QTensor) return { kind: 'qtensor', shape: [...x.shape], strides: [...x.strides], dtype: x.dtype, quantizer: quantizerOf(x), storage: arrayType(x.data) };
  if (x instanceof Tensor) return { kind: 'tensor', shape: [...x.shape], strides: [...x.strides] };
  return { kind: 'array', type: arrayType(x) };
}

const ARRAY_CONSTRUCTORS: Record<string, new (length: number) => ArrayBufferView> = {
  Uint8Array, Int8Array, Int32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array,
};

function emptyArray(type: string): ArrayBufferView {
  const Ctor = ARRAY_CONSTRUCTORS[type];
  if (!Ctor || !(PLAN_ARRAY_TYPES as readonly string[]).includes(type)) throw new TypeError(`qkernels: jit.adopt: unknown array type ${type} in a shared plan's description`);
  return new Ctor(0);
}

function reviveInput(d: TensorDescription): TracedInput {
  if (d.kind === 'qtensor') return metadataQTensor(emptyArray(d.storage) as QStorage, d.shape, d.strides, d.dtype, d.quantizer);
  if (d.kind === 'tensor') return makeTensor(new Float32Array(0), d.shape, d.strides);
  return emptyArray(d.type);
}

function describeTemplate(t: OutputTemplate): TemplateDescription {
  if (t instanceof OutputSlot) return { kind: 'slot', slot: t.slot, like: describeInput(t.like) };
  if (Array.isArray(t)) return { kind: 'list', items: t.map(describeTemplate) };
  return { kind: 'record', entries: Object.entries(t).map(([k, v]) => [k, describeTemplate(v)]) };
}

function reviveTemplate(d: TemplateDescription): OutputTemplate {
  if (d.kind === 'slot') return new OutputSlot(d.slot, reviveInput(d.like) as TracedTensor);
  if (d.kind === 'list') return d.items.map(reviveTemplate);
  const record: { [key: string]: OutputTemplate } = {};
  for (const [k, v] of d.entries) record[k] = reviveTemplate(v);
  return record;
}

/**
 * jit.adopt: a TracedModule of this thread over the plan another thread's TracedModule.share()
 * published. `shared` may have crossed postMessage (only its token is read).
 */
export function adoptTracedModule(shared: unknown): TracedModule {
  const what = "the object TracedModule.share() returned ({ kind: 'qkernels.TracedModule', token })";
  if (typeof shared !== 'object' || shared === null) throw validate.invalidType(what, 'shared', shared);
  const { kind, token } = shared as { kind?: unknown; token?: unknown };
  if (kind !== 'qkernels.TracedModule') throw validate.invalidType(what, 'shared', shared);
  if (typeof token !== 'number' || !Number.isSafeInteger(token) || token < 1) {
    throw validate.invalidType('a positive integer token from TracedModule.share()', 'shared.token', token);
  }
  const { plan, metadata } = raw.planAdopt(token) as { plan: unknown; metadata: Uint8Array };
  const m = v8.deserialize(metadata) as {
    name: string;
    examples: TensorDescription[];
    inputBytes: number[];
    output: TemplateDescription;
    figures: PlanFigures;
    graph: string;
  };
  return new TracedModule({
    name: m.name,
    plan,
    examples: m.examples.map(reviveInput),
    inputBytes: m.inputBytes,
    output: reviveTemplate(m.output),
    figures: m.figures,
    graph: m.graph,
  });
}
