// The linear and conv op plans the functional forms, ops.quantized and the modules share (input checks, layouts, the native calls), and the modules' eager fast paths.

import { OpPlan, makePlan, paramsOf } from '../plan';
import { activeTracer } from '../jit/hook';
import { QTensor, checkQTensor, denseOutput, wrapPerTensorOutput } from '../qtensor';
import { Tensor, checkTensor, makeTensor } from '../tensor';
import { channelsLastOrder, contiguousStrides, isDenseInOrder, numelOf, sameDims } from '../shape';
import * as validate from '../validate';
import { Activation, PackedHandle, native } from './native';
import { ConvSpec, outputSpatial } from './params';
import { PackedWeight } from './weights';

/** A quint8 per-tensor QTensor (the only activations torch's quantized linear/conv take). */
export function checkQuint8(value: unknown, parameter: string): QTensor {
  const q = checkQTensor(value, parameter);
  if (q.dtype !== 'quint8') throw validate.invalidRange('quint8 QTensor', parameter, value);
  if (q.qscheme !== 'per_tensor_affine') throw validate.invalidRange('per_tensor_affine QTensor', parameter, value);
  return q;
}

export function checkZeroPointU8(value: unknown, parameter: string): number {
  return validate.integerInRange(value, parameter, 0, 255);
}

/** Dense row-major quint8 values of a QTensor (a view of its storage when already contiguous). */
function denseQuint8(q: QTensor): Uint8Array {
  const dense = q.contiguous();
  return (dense.data as Uint8Array).subarray(0, dense.numel());
}

// ---- linear ----------------------------------------------------------------------------------

/** Linear on a quint8 input (N, *, in): y (N, *, out), quint8 with the given qparams. */
export function planLinear(
  packed: PackedWeight,
  input: unknown,
  inputName: string,
  scale: number,
  zeroPoint: number,
  activation: Activation,
  alpha = 0,
): OpPlan<QTensor> {
  const q = checkQuint8(input, inputName);
  const [outFeatures, inFeatures] = packed.shape;
  if (q.dim() < 1 || q.shape[q.dim() - 1] !== inFeatures) {
    throw validate.invalidRange(`QTensor whose last dim is inFeatures (${inFeatures})`, inputName, input);
  }
  const rows = q.numel() / inFeatures;
  validate.storageFits(rows * outFeatures, 1, inputName, input);
  const data = denseQuint8(q);
  const xScale = q.qScale();
  const xZeroPoint = q.qZeroPoint();
  const shape = new Array<number>(q.shape.length);
  for (let d = 0; d < shape.length - 1; d++) shape[d] = q.shape[d];
  shape[shape.length - 1] = outFeatures;
  Object.freeze(shape);  // kept by the output QTensor as it is
  const args = [packed.handle, data, rows, xScale, xZeroPoint, scale, zeroPoint, activation, alpha] as const;
  return makePlan(
    () => native.linear(...args),
    () => native.linearAsync(...args),
    (storage) => quint8Output(storage, shape, null, scale, zeroPoint),
    { op: 'linear', args },
  );
}

/**
 * What a module's linear fast path keeps between calls: the output shape and strides (frozen)
 * for the last input shape seen, so a repeated shape allocates nothing but the output.
 */
export interface LinearFastCache {
  inShape: readonly number[] | null;
  outShape: readonly number[];
  outStrides: readonly number[];
}

export function newLinearFastCache(): LinearFastCache {
  return { inShape: null, outShape: [], outStrides: [] };
}

/** True when the output qparams pass validate.scale and checkZeroPointU8 (zeroPoint without a sign of zero). */
export function fastOutputQParams(scale: unknown, zeroPoint: unknown): boolean {
  if (typeof scale !== 'number' || !(scale > 0 && scale < Infinity)) return false;
  const rounded = Math.fround(scale);
  if (!(rounded > 0 && rounded < Infinity)) return false;
  return typeof zeroPoint === 'number' && zeroPoint >= 0 && zeroPoint <= 255 && Math.floor(zeroPoint) === zeroPoint && !Object.is(zeroPoint, -0);
}

/**
 * planLinear(...).run() for the common case, without the plan's objects and closures: a quint8
 * per-tensor QTensor with row-major strides and attached storage, whose last dim is
 * inFeatures; `scale` and `zeroPoint` must have passed fastOutputQParams. Returns null for
 * anything else, and the caller then takes planLinear, which throws the errors or handles the
 * case. The native op checks every length again.
 */
export function runLinearFast(
  packed: PackedWeight,
  input: unknown,
  scale: number,
  zeroPoint: number,
  activation: Activation,
  alpha: number,
  cache: LinearFastCache,
): QTensor | null {
  if (!(input instanceof QTensor) || input.dtype !== 'quint8' || input.qscheme !== 'per_tensor_affine') return null;
  if (activeTracer() !== null) return null; // jit.trace records planLinear's call
  const shape = input.shape;
  const strides = input.strides;
  const rank = shape.length;
  const inFeatures = packed.shape[1];
  if (rank < 1 || shape[rank - 1] !== inFeatures) return null;
  let numel = 1;
  for (let d = rank - 1; d >= 0; d--) {
    if (strides[d] !== numel) return null;
    numel *= shape[d];
  }
  const data = input.data as Uint8Array;
  // A transferred buffer reads as length 0: the general path names it.
  if (numel === 0 || data.length < numel) return null;
  const outFeatures = packed.shape[0];
  const rows = numel / inFeatures;
  if (rows * outFeatures > validate.MAX_BUFFER_BYTES) return null; // validate.storageFits' RangeError
  // Keyed on the dims themselves (a private frozen copy), never on the array's identity.
  if (!sameDims(cache.inShape, shape)) {
    const outShape = shape.slice();
    outShape[rank - 1] = outFeatures;
    cache.outShape = Object.freeze(outShape);
    cache.outStrides = Object.freeze(contiguousStrides(outShape));
    cache.inShape = Object.freeze(shape.slice());
  }
  const x = data.length === numel ? data : data.subarray(0, numel);
  const storage = native.linear(packed.handle, x, rows, input.qScale(), input.qZeroPoint(), scale, zeroPoint, activation, alpha);
  return wrapPerTensorOutput(storage, cache.outShape, cache.outStrides, scale, zeroPoint, 'quint8');
}

/** Dynamic linear on an fp32 input (N, *, in): fp32 (N, *, out). */
export function planLinearDynamic(packed: PackedWeight, input: unknown, inputName: string, reduceRange: boolean, relu: boolean): OpPlan<Tensor> {
  const x = checkTensor(input, inputName);
  const [outFeatures, inFeatures] = packed.shape;
  if (x.dim() < 1 || x.shape[x.dim() - 1] !== inFeatures) {
    throw validate.invalidRange(`Tensor whose last dim is inFeatures (${inFeatures})`, inputName, input);
  }
  const rows = x.numel() / inFeatures;
  validate.storageFits(rows * outFeatures, 4, inputName, input);
  const dense = x.contiguous();
  const data = dense.data.subarray(0, dense.numel());
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw validate.invalidRange('Tensor of finite values (its min and max choose the qparams)', inputName, input);
  }
  const shape = [...x.shape.slice(0, -1), outFeatures];
  const args = [packed.handle, data, rows, reduceRange, relu] as const;
  return makePlan(
    () => native.linearDynamic(...args),
    () => native.linearDynamicAsync(...args),
    (values) => makeTensor(values, shape, contiguousStrides(shape)),
    { op: 'linearDynamic', args },
  );
}

// ---- conv ------------------------------------------------------------------------------------

/**
 * The memory order of a conv activation: null (contiguous) or channels last (N, spatial..., C).
 * Strides decide where size-1 dims make both orders dense: strides that are exactly the
 * row-major ones mean contiguous, as torch's suggest_memory_format reads them.
 */
function activationOrder(q: QTensor): readonly number[] | null {
  if (exactlyRowMajor(q.shape, q.strides)) return null;
  const order = channelsLastOrder(q.dim());
  return isDenseInOrder(q.shape, q.strides, order) ? order : null;
}

/** True when the strides are exactly contiguousStrides(shape) (size-1 dims included). */
function exactlyRowMajor(shape: readonly number[], strides: readonly number[]): boolean {
  let stride = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (strides[d] !== stride) return false;
    stride *= Math.max(shape[d], 1);
  }
  return true;
}

/** The values of `q` dense in `order` (null: row-major). */
function denseIn(q: QTensor, order: readonly number[] | null): Uint8Array {
  // Dense in the order already (activationOrder's answer for the input): its own storage.
  if (order !== null && isDenseInOrder(q.shape, q.strides, order)) return (q.data as Uint8Array).subarray(0, q.numel());
  return denseQuint8(order === null ? q : q.permute(order as number[]));
}

export interface ConvExtra {
  /** ConvAdd's second input: quint8, the output's shape. */
  readonly input: unknown;
  readonly name: string;
}

/**
 * Conv / transposed conv on a quint8 input (N, C, spatial...) in contiguous or channels-last
 * layout. The output is channels-last whatever the input's layout, as PyTorch's quantized conv
 * returns it under every engine (conv1d strides (C*L, 1, C)); layout changes what later ops
 * compute (average pooling rounds per layout). `extra` (ConvAdd) is added before the ReLU.
 */
export function planConv(...args: Parameters<typeof setupConv>): OpPlan<QTensor> {
  return convPlan(setupConv(...args));
}

/** The binding's conv arguments (native.conv's, in order). */
type ConvArgs = readonly [PackedHandle, Uint8Array, number, Float64Array, number, number, number, number, number, boolean, Uint8Array | null, number, number];

/** What planConv derives for a call: the binding's arguments and the output's frozen shape. */
interface ConvSetup {
  readonly args: ConvArgs;
  readonly shape: readonly number[];
  /** The input as checked, and whether the op reads its storage in place (no copy, no extra). */
  readonly q: QTensor;
  readonly inPlace: boolean;
}

function convPlan(s: ConvSetup): OpPlan<QTensor> {
  const args = s.args;
  const shape = s.shape;
  const scale = args[7];
  const zeroPoint = args[8];
  return makePlan(
    () => native.conv(...args),
    () => native.convAsync(...args),
    (storage) => quint8Output(storage, shape, channelsLastOrder(shape.length), scale, zeroPoint),
    { op: 'conv', args },
  );
}

/** planConv's checks and derivations, every error of planConv. */
function setupConv(
  packed: PackedWeight,
  spec: ConvSpec,
  input: unknown,
  inputName: string,
  scale: number,
  zeroPoint: number,
  relu: boolean,
  extra?: ConvExtra,
): ConvSetup {
  const q = checkQuint8(input, inputName);
  const rank = spec.dims + 2;
  if (q.dim() !== rank) {
    throw validate.invalidRange(`${rank}-dim QTensor (N, C, ${['L', 'H, W', 'D, H, W'][spec.dims - 1]})`, inputName, input);
  }
  if (q.shape[1] !== spec.inChannels) {
    throw validate.invalidRange(`QTensor with ${spec.inChannels} channels (dim 1), the in channels of the weight`, inputName, input);
  }
  // Loops, not slice / spread: q.shape is frozen, which sends those to V8's slow paths.
  const inSpatial = new Array<number>(spec.dims);
  for (let d = 0; d < spec.dims; d++) inSpatial[d] = q.shape[d + 2];
  const outSpatial = outputSpatial(spec, inSpatial, input, inputName);
  const batch = q.shape[0];
  const outShape = new Array<number>(rank);
  outShape[0] = batch;
  outShape[1] = spec.outChannels;
  for (let d = 0; d < spec.dims; d++) outShape[d + 2] = outSpatial[d];
  // Frozen here, so the output QTensor keeps this array rather than copying it.
  const shape = Object.freeze(outShape);
  validate.storageFits(numelOf(shape), 1, inputName, input);
  const order = activationOrder(q);
  const data = denseIn(q, order);
  // Shared between calls with these sizes (paramsOf): no typed array made per call.
  const spatial = paramsOf(inSpatial[0], spec.dims > 1 ? inSpatial[1] : 1, spec.dims > 2 ? inSpatial[2] : 1);
  const outOrder = channelsLastOrder(rank);
  const layout = order === null ? 2 : 1;  // contiguous or channels-last in, channels-last out
  const xScale = q.qScale();
  const xZeroPoint = q.qZeroPoint();
  let extraData: Uint8Array | null = null;
  let extraScale = 1;
  let extraZeroPoint = 0;
  if (extra !== undefined) {
    const e = checkQuint8(extra.input, extra.name);
    if (e.shape.length !== shape.length || e.shape.some((d, i) => d !== shape[i])) {
      throw validate.invalidRange(`QTensor of the output's shape [${shape.join(', ')}]`, extra.name, extra.input);
    }
    extraData = denseIn(e, outOrder);
    extraScale = e.qScale();
    extraZeroPoint = e.qZeroPoint();
  }
  const args: ConvArgs = [packed.handle, data, batch, spatial, layout, xScale, xZeroPoint, scale, zeroPoint, relu, extraData, extraScale, extraZeroPoint];
  // denseIn reads an input dense in its order in place: channels last, or exactly row-major.
  const inPlace = extraData === null && (order !== null || exactlyRowMajor(q.shape, q.strides));
  return { args, shape, q, inPlace };
}

/**
 * One eager conv module call's key and what planConv derived for it; no tensor (the cache
 * must not keep a call's buffers alive). The key: the module's packed weight and spec (by
 * identity: both are immutable, and setWeightBias / loadStateDict / a dispose replace the
 * module's whole object), relu, and the input's shape and strides compared by value (the
 * same frozen array, tested first, has the same values). The qparams are not in the key:
 * they are read and passed on each call.
 */
interface ConvEntry {
  readonly packed: PackedWeight;
  readonly spec: ConvSpec;
  readonly relu: boolean;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly numel: number;
  // The binding's batch, inSpatial (a shared, never-written paramsOf array) and layout code.
  readonly batch: number;
  readonly spatial: Float64Array;
  readonly layout: number;
  // The output's frozen shape and strides (the first call's, made by the general path).
  readonly outShape: readonly number[];
  readonly outStrides: readonly number[];
  readonly outNumel: number;
}

/**
 * What a conv module's eager forwards reuse: the last call's entry. A forward used to
 * re-derive all of it (planConv: its checks, outputSpatial, the layout tests on frozen arrays,
 * the plan and its closures, the output's strides), ~1 us of a ~4 us call on a tiny tensor.
 */
export class ConvCache {
  entry: ConvEntry | null = null;
}

/**
 * A conv module's eager forward (one input, no outputSize): planConv(...).run(), or while not
 * tracing, on the key of the last call (same packed weight, spec and relu; a quint8 per-tensor
 * input of the same shape and strides whose buffer is attached), the same binding call on the
 * derived state kept in `cache`. `scale` and `zeroPoint` are the output qparams, already
 * checked. Any other call takes the general path, whose checks and errors are planConv's.
 */
export function convForward(packed: PackedWeight, spec: ConvSpec, x: unknown, scale: number, zeroPoint: number, relu: boolean, cache: ConvCache): QTensor {
  const tracing = activeTracer() !== null;
  const e = cache.entry;
  if (
    !tracing &&
    e !== null &&
    x instanceof QTensor &&
    x.dtype === 'quint8' &&
    x.qscheme === 'per_tensor_affine' &&
    e.packed === packed &&
    e.spec === spec &&
    e.relu === relu &&
    // sameDims tests the same array first (a model's conv chain passes the cached output shape on).
    sameDims(e.shape, x.shape) &&
    sameDims(e.strides, x.strides) &&
    // A transferred buffer reads as length 0: the general path names it.
    x.data.length >= e.numel
  ) {
    const data = x.data as Uint8Array;
    // What denseIn gives for an input read in place (a cached key's input is).
    const storage = data.length === e.numel ? data : data.subarray(0, e.numel);
    const y = native.conv(packed.handle, storage, e.batch, e.spatial, e.layout, x.qScale(), x.qZeroPoint(), scale, zeroPoint, relu, null, 1, 0);
    // denseOutput's length check (and its Error) for a result that does not fit the shape.
    if (y.length !== e.outNumel) return quint8Output(y, e.outShape, channelsLastOrder(e.outShape.length), scale, zeroPoint);
    return wrapPerTensorOutput(y, e.outShape, e.outStrides, scale, zeroPoint, 'quint8');
  }
  const s = setupConv(packed, spec, x, 'x', scale, zeroPoint, relu);
  const y = convPlan(s).run();
  const numel = s.q.numel();
  cache.entry =
    tracing || !s.inPlace || numel === 0
      ? null
      : {
          packed,
          spec,
          relu,
          shape: s.q.shape,
          strides: s.q.strides,
          numel,
          batch: s.args[2],
          spatial: s.args[3],
          layout: s.args[4],
          outShape: y.shape,
          outStrides: y.strides,
          outNumel: numelOf(y.shape),
        };
  return y;
}

/**
 * A quint8 per-tensor QTensor over `storage` that holds `shape`'s elements in `order`
 * (memory order of the dims, outermost first; null: row-major).
 */
export function quint8Output(storage: Uint8Array, shape: readonly number[], order: readonly number[] | null, scale: number, zeroPoint: number): QTensor {
  return denseOutput(storage, shape, order, scale, zeroPoint, 'quint8');
}
