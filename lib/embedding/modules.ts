// nnq.Embedding and nnq.EmbeddingBag: modules holding a packed 8-bit or 4-bit rowwise table (torch.ao.nn.quantized).

import { LoadContext, Module } from '../nn/module';
import { planAsync } from '../plan';
import { StateDict, quantizedTensor, readConstant } from '../nn/state';
import { QTensor, checkQTensor, makePerChannelQuantizedTensor, quantizePerChannel } from '../qtensor';
import { Tensor } from '../tensor';
import * as validate from '../validate';
import { embeddingAddon } from './native';
import { Uint8Tensor } from './ops';
import {
  EmbeddingBagMode,
  IndexInput,
  Lookup,
  LookupCache,
  MODES,
  checkEmbedding,
  checkLookup,
  embeddingBagFast,
  embeddingFast,
  lookupPlan,
  releaseSharedTable,
} from './plan';

/** The weight dtypes of the quantized embedding modules. */
export type EmbeddingDType = 'quint8' | 'quint4x2';
const DTYPES: readonly EmbeddingDType[] = ['quint8', 'quint4x2'];

/** torch.finfo(torch.float32).eps: the observer's smallest scale. */
const FLOAT32_EPS = 2 ** -23;

/**
 * The table of an embedding module: its rowwise-quantized weight and that weight packed
 * (torch's PackedEmbeddingBagWeight).
 */
class PackedTableState {
  readonly packed: Uint8Tensor;
  constructor(readonly weight: QTensor, readonly bits: 8 | 4) {
    const [rows, dim] = weight.shape;
    const scales = Float32Array.from(weight.qPerChannelScales());
    const zeroPoints = Float32Array.from(weight.qPerChannelZeroPoints());
    const bytes = embeddingAddon.embeddingBagPackQuantized(weight.intRepr() as Uint8Array, rows, dim, bits, scales, zeroPoints);
    this.packed = new Uint8Tensor(bytes, [rows, bits === 8 ? dim + 8 : dim / 2 + 4]);
  }
}

function checkDims(numEmbeddings: unknown, embeddingDim: unknown, dtype: EmbeddingDType): [number, number] {
  const rows = validate.nonNegativeInteger(numEmbeddings, 'numEmbeddings');
  const dim = validate.nonNegativeInteger(embeddingDim, 'embeddingDim');
  if (dtype === 'quint4x2' && dim % 2 !== 0) {
    throw validate.invalidRange('even embeddingDim (quint4x2 packs two values per byte)', 'embeddingDim', embeddingDim);
  }
  return [rows, dim];
}

/** padding_idx as float torch takes it: in [-numEmbeddings, numEmbeddings), negative counted from the end. */
function checkPaddingIdx(value: unknown, rows: number): number | null {
  if (value === undefined || value === null) return null;
  const idx = validate.integerInRange(value, 'paddingIdx', -rows, rows - 1);
  return idx < 0 ? idx + rows : idx;
}

/** A module's initial weight: zeros with scale 1 and zero point 0 (torch leaves it uninitialized). */
function initialWeight(rows: number, dim: number, dtype: EmbeddingDType): QTensor {
  const bytes = dtype === 'quint8' ? rows * dim : Math.ceil((rows * dim) / 2);
  return makePerChannelQuantizedTensor(new Uint8Array(bytes), [rows, dim], new Float32Array(rows).fill(1), new Float32Array(rows), 0, dtype);
}

function checkWeight(value: unknown, rows: number, dim: number, dtype: EmbeddingDType, parameter = 'weight'): QTensor {
  const w = checkQTensor(value, parameter);
  const what = `QTensor of dtype ${dtype}, per_channel_affine_float_qparams along axis 0, shape [${rows}, ${dim}]`;
  if (w.dtype !== dtype || w.qscheme !== 'per_channel_affine_float_qparams' || w.qPerChannelAxis() !== 0 || w.shape.length !== 2 || w.shape[0] !== rows || w.shape[1] !== dim) {
    throw validate.invalidRange(what, parameter, value);
  }
  return w;
}

/**
 * Rowwise float qparams as torch's float_qparams_weight_only_qconfig observer computes them
 * (PerChannelMinMaxObserver, per_channel_affine_float_qparams, axis 0), in fp32:
 * scale = (max - min) / (qmax - qmin), 1 where it is not above float32 eps;
 * zero_point = -1 * min / scale; then torch.quantize_per_channel.
 */
function quantizeRowwise(weight: Tensor, dtype: EmbeddingDType): QTensor {
  const [rows, dim] = weight.shape;
  const data = weight.contiguous().data;
  const levels = dtype === 'quint8' ? 255 : 15;
  const scales = new Float32Array(rows);
  const zeroPoints = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let min = Infinity;
    let max = -Infinity;
    for (let j = 0; j < dim; j++) {
      const v = data[r * dim + j];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (dim === 0) min = max = 0;
    let scale = Math.fround(Math.fround(max - min) / levels);
    if (!(scale > FLOAT32_EPS)) scale = 1;
    scales[r] = scale;
    zeroPoints[r] = Math.fround(-min / scale);
  }
  return quantizePerChannel(weight, scales, zeroPoints, 0, dtype);
}

/** What fromFloat reads of a float nn.Embedding / nn.EmbeddingBag. */
export interface FloatEmbeddingLike {
  weight: Tensor;
  paddingIdx?: number | null;
  mode?: EmbeddingBagMode;
  includeLastOffset?: boolean;
}

function checkFloatModule(mod: unknown): FloatEmbeddingLike & { weight: Tensor } {
  if (typeof mod !== 'object' || mod === null) throw validate.invalidType('object with a 2-D Tensor weight', 'mod', mod);
  const weight = (mod as FloatEmbeddingLike).weight;
  if (!(weight instanceof Tensor) || weight.dim() !== 2) throw validate.invalidType('2-D Tensor', 'mod.weight', weight);
  return mod as FloatEmbeddingLike;
}

/**
 * What nnq.Embedding and nnq.EmbeddingBag share: the table's size and dtype, the padding
 * index, and the weight with its packed form.
 */
abstract class QuantizedEmbeddingBase extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly dtype: EmbeddingDType;
  readonly paddingIdx: number | null;
  protected state: PackedTableState;

  protected constructor(numEmbeddings: unknown, embeddingDim: unknown, paddingIdx: unknown, dtype: unknown) {
    super();
    this.dtype = dtype === undefined ? 'quint8' : validate.oneOf(dtype, 'dtype', DTYPES);
    [this.numEmbeddings, this.embeddingDim] = checkDims(numEmbeddings, embeddingDim, this.dtype);
    this.paddingIdx = checkPaddingIdx(paddingIdx, this.numEmbeddings);
    this.state = new PackedTableState(initialWeight(this.numEmbeddings, this.embeddingDim, this.dtype), this.dtype === 'quint8' ? 8 : 4);
  }

  /** Replaces the table: a per_channel_affine_float_qparams QTensor [numEmbeddings, embeddingDim] of the module's dtype. */
  setWeight(w: QTensor): void {
    this.state = new PackedTableState(checkWeight(w, this.numEmbeddings, this.embeddingDim, this.dtype), this.state.bits);
  }

  /** The quantized weight (as given to setWeight). */
  weight(): QTensor {
    return this.state.weight;
  }

  /**
   * The packed table (torch's _packed_params._packed_weight), as a copy: the module's own
   * table is immutable, because async lookups share a native copy of it (made once).
   */
  packedWeight(): Uint8Tensor {
    const packed = this.state.packed;
    return new Uint8Tensor(packed.data.slice(), packed.shape);
  }

  /**
   * Frees the native copy of the table that async lookups share now instead of at garbage
   * collection (lookups already queued finish); any use afterwards is a TypeError naming the
   * module. Also run by `using` (Symbol.dispose).
   */
  override dispose(): void {
    validate.disposeOnce(this, ['state'], () => releaseSharedTable(this.state.packed.data));
    super.dispose();
  }

  /** torch's keys: `_packed_params.dtype` ('torch.quint8' | 'torch.quint4x2') and `_packed_params._packed_weight` (the quantized weight). */
  protected override saveToStateDict(dest: StateDict, prefix: string): void {
    dest.set(`${prefix}_packed_params.dtype`, `torch.${this.dtype}`);
    dest.set(`${prefix}_packed_params._packed_weight`, this.state.weight);
  }

  protected override loadFromStateDict(ctx: LoadContext, prefix: string): (() => void) | void {
    readConstant(ctx, `${prefix}_packed_params.dtype`, [`torch.${this.dtype}`]);
    const key = `${prefix}_packed_params._packed_weight`;
    const state = ctx.read(key, (value) => {
      const weight = checkWeight(quantizedTensor(value, key), this.numEmbeddings, this.embeddingDim, this.dtype, key);
      return new PackedTableState(weight, this.state.bits);
    });
    if (state === undefined) return;
    return () => {
      this.state = state;
    };
  }

  override extraRepr(): string {
    return `num_embeddings=${this.numEmbeddings}, embedding_dim=${this.embeddingDim}, dtype=torch.${this.dtype}, qscheme=torch.per_channel_affine_float_qparams`;
  }
}

/** fromFloat's shared part: the checked float module and the quantized weight in the requested dtype. */
function quantizeFloatModule(mod: unknown, options: unknown): { m: FloatEmbeddingLike; dtype: EmbeddingDType; rows: number; dim: number; qweight: () => QTensor } {
  const m = checkFloatModule(mod);
  const opts = validate.options(options, 'options', ['dtype']);
  const dtype: EmbeddingDType = opts.dtype === undefined ? 'quint8' : validate.oneOf(opts.dtype, 'dtype', DTYPES);
  const [rows, dim] = m.weight.shape;
  return { m, dtype, rows, dim, qweight: () => quantizeRowwise(m.weight, dtype) };
}

/**
 * torch.ao.nn.quantized.EmbeddingBag: bags of rows of an 8-bit (quint8) or 4-bit (quint4x2)
 * rowwise table. Beyond torch (whose quantized op always sums and has no padding): modes
 * 'mean' and 'max' as float nn.EmbeddingBag computes them on the dequantized table, and
 * paddingIdx skipped; a compressedIndicesMapping given to forward marks the table pruned.
 *
 * @example
 * const bag = nnq.EmbeddingBag.fromFloat({ weight: tensor(w, [1000, 64]) }, { dtype: 'quint4x2' });
 * const y = bag.forward(new Int32Array([3, 1, 4, 1, 5]), new Int32Array([0, 2])); // [2, 64]
 */
export class EmbeddingBag extends QuantizedEmbeddingBase {
  mode: EmbeddingBagMode;
  includeLastOffset: boolean;
  /** What eager forwards reuse (private: not an attribute torch has). */
  readonly #fast = new LookupCache();

  constructor(
    numEmbeddings: number,
    embeddingDim: number,
    options?: { mode?: EmbeddingBagMode; includeLastOffset?: boolean; paddingIdx?: number | null; dtype?: EmbeddingDType },
  ) {
    const opts = validate.options(options, 'options', ['mode', 'includeLastOffset', 'paddingIdx', 'dtype']);
    super(numEmbeddings, embeddingDim, opts.paddingIdx, opts.dtype);
    this.mode = opts.mode === undefined ? 'sum' : validate.oneOf(opts.mode, 'mode', MODES);
    this.includeLastOffset = opts.includeLastOffset === undefined ? false : validate.boolean(opts.includeLastOffset, 'includeLastOffset');
  }

  private lookup(indices: IndexInput, offsets?: IndexInput | null, perSampleWeights?: Tensor | Float32Array | null, compressedIndicesMapping?: Int32Array | readonly number[] | null): Lookup {
    const mode = validate.oneOf(this.mode, 'mode', MODES);
    const pruned = compressedIndicesMapping !== undefined && compressedIndicesMapping !== null;
    return checkLookup(this.state.packed, this.state.bits, indices, offsets, {
      mode,
      includeLastOffset: validate.boolean(this.includeLastOffset, 'includeLastOffset'),
      perSampleWeights: perSampleWeights ?? null,
      prunedWeights: pruned,
      compressedIndicesMapping: pruned ? compressedIndicesMapping : null,
      paddingIdx: this.paddingIdx,
    });
  }

  /** One output row per bag: [bags, embeddingDim]. 2-D indices without offsets are one bag per row. */
  override forward(indices: IndexInput, offsets?: IndexInput | null, perSampleWeights?: Tensor | Float32Array | null, compressedIndicesMapping?: Int32Array | readonly number[] | null): Tensor {
    // The attributes first, as lookup() checks them (a bad one: the general path's error).
    const mode = this.mode === 'sum' ? 0 : this.mode === 'mean' ? 1 : this.mode === 'max' ? 2 : -1;
    const includeLastOffset = this.includeLastOffset;
    if (mode >= 0 && typeof includeLastOffset === 'boolean' && (perSampleWeights === undefined || perSampleWeights === null) && (compressedIndicesMapping === undefined || compressedIndicesMapping === null)) {
      const state = this.state;
      const y = embeddingBagFast(this.#fast, state.packed, state.bits, indices, offsets, includeLastOffset, mode, this.paddingIdx);
      if (y !== null) return y;
    }
    return lookupPlan(this.lookup(indices, offsets, perSampleWeights, compressedIndicesMapping)).run();
  }

  /** forward off the event loop (qkernels' async job queue): same bits. */
  override forwardAsync(indices: IndexInput, offsets?: IndexInput | null, perSampleWeights?: Tensor | Float32Array | null, compressedIndicesMapping?: Int32Array | readonly number[] | null): Promise<Tensor> {
    return planAsync(this.forwardAsync, () => lookupPlan(this.lookup(indices, offsets, perSampleWeights, compressedIndicesMapping), true));
  }

  /** From a float nn.EmbeddingBag ({ weight, mode?, includeLastOffset?, paddingIdx? }): rowwise float qparams, as torch's float_qparams_weight_only_qconfig. */
  static fromFloat(mod: FloatEmbeddingLike, options?: { dtype?: EmbeddingDType }): EmbeddingBag {
    const { m, dtype, rows, dim, qweight } = quantizeFloatModule(mod, options);
    const bag = new EmbeddingBag(rows, dim, { mode: m.mode, includeLastOffset: m.includeLastOffset, paddingIdx: m.paddingIdx, dtype });
    bag.setWeight(qweight());
    return bag;
  }

  override getName(): string {
    return 'QuantizedEmbeddingBag';
  }
}

/**
 * torch.ao.nn.quantized.Embedding: one row of an 8-bit or 4-bit rowwise table per index;
 * indices of shape [...] give [..., embeddingDim]. An index equal to paddingIdx gives a row
 * of zeros (float nn.Embedding's padding row is zeros).
 *
 * @example
 * const emb = nnq.Embedding.fromFloat({ weight: tensor(w, [1000, 64]) });
 * const y = emb.forward([[1, 2], [3, 4]]); // [2, 2, 64]
 */
export class Embedding extends QuantizedEmbeddingBase {
  /** What eager forwards reuse (private: not an attribute torch has). */
  readonly #fast = new LookupCache();

  constructor(numEmbeddings: number, embeddingDim: number, options?: { paddingIdx?: number | null; dtype?: EmbeddingDType }) {
    const opts = validate.options(options, 'options', ['paddingIdx', 'dtype']);
    super(numEmbeddings, embeddingDim, opts.paddingIdx, opts.dtype);
  }

  override forward(indices: IndexInput): Tensor {
    const state = this.state;
    return embeddingFast(this.#fast, state.packed, state.bits, indices, this.paddingIdx) ?? lookupPlan(checkEmbedding(this.state.packed, this.state.bits, indices, this.paddingIdx)).run();
  }

  override forwardAsync(indices: IndexInput): Promise<Tensor> {
    return planAsync(this.forwardAsync, () => lookupPlan(checkEmbedding(this.state.packed, this.state.bits, indices, this.paddingIdx), true));
  }

  /** From a float nn.Embedding ({ weight, paddingIdx? }): rowwise float qparams, as torch's float_qparams_weight_only_qconfig. */
  static fromFloat(mod: FloatEmbeddingLike, options?: { dtype?: EmbeddingDType }): Embedding {
    const { m, dtype, rows, dim, qweight } = quantizeFloatModule(mod, options);
    const emb = new Embedding(rows, dim, { paddingIdx: m.paddingIdx, dtype });
    emb.setWeight(qweight());
    return emb;
  }

  override getName(): string {
    return 'QuantizedEmbedding';
  }
}
