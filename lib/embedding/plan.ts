// The embedding family's op plans: packed tables, indices and offsets checked once, then one lookup run now or off the event loop; the modules' eager fast path.

import { types } from 'util';

import { OpPlan, makePlan } from '../plan';
import { activeTracer, traceConstant } from '../jit/hook';
import { contiguousStrides, numelOf } from '../shape';
import { Tensor, checkTensor, makeTensor } from '../tensor';
import * as validate from '../validate';
import { IndexStorage, LookupArgs, TableHandle, embeddingAddon } from './native';

/** A packed table argument: a Uint8Tensor or any { data: Uint8Array, shape: [rows, rowBytes] }. */
export interface PackedTable {
  readonly data: Uint8Array;
  readonly shape: readonly number[];
}

export type EmbeddingBagMode = 'sum' | 'mean' | 'max';
export const MODES: readonly EmbeddingBagMode[] = ['sum', 'mean', 'max'];

/** Indices or offsets: Int32Array, BigInt64Array, or an array of integers (an array of such rows for 2-D indices). */
export type IndexInput = Int32Array | BigInt64Array | readonly number[] | readonly bigint[] | readonly (Int32Array | BigInt64Array | readonly number[] | readonly bigint[])[];

/** What every lookup needs to know about a packed table. */
export interface TableView {
  data: Uint8Array;
  rows: number;
  rowBytes: number;
  bits: 8 | 4;
  dim: number;
}

export function checkTable(value: unknown, parameter: string, bits: 8 | 4): TableView {
  const what = 'packed table (a Uint8Tensor or { data: Uint8Array, shape: [rows, rowBytes] })';
  if (typeof value !== 'object' || value === null) throw validate.invalidType(what, parameter, value);
  const table = value as Partial<PackedTable>;
  const data = validate.typedArray(table.data, `${parameter}.data`, ['Uint8Array']);
  const shape = validate.shape(table.shape, `${parameter}.shape`);
  if (shape.length !== 2) throw validate.invalidRange('2-D shape [rows, rowBytes]', `${parameter}.shape`, table.shape);
  const [rows, rowBytes] = shape;
  const overhead = bits === 8 ? 8 : 4;
  if (rowBytes < overhead) {
    throw validate.invalidRange(`rows of at least ${overhead} bytes (the ${bits}-bit scale and bias)`, `${parameter}.shape`, table.shape);
  }
  if (data.length !== rows * rowBytes) {
    throw validate.invalidRange(`Uint8Array of ${rows * rowBytes} bytes (rows * rowBytes)`, `${parameter}.data`, data);
  }
  return { data, rows, rowBytes, bits, dim: bits === 8 ? rowBytes - 8 : (rowBytes - 4) * 2 };
}

function integerValue(value: unknown, parameter: string): number | bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value !== 'number') throw validate.invalidType('integer (number or bigint)', parameter, value);
  if (!Number.isSafeInteger(value)) throw validate.invalidRange('integer', parameter, value);
  return value;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** One row of integers as Int32Array (when every value fits) or BigInt64Array. */
function toIndexStorage(values: ArrayLike<unknown>, parameter: string, forceBig: boolean): IndexStorage {
  const items: ArrayLike<unknown> = Array.isArray(values) ? validate.arrayOnce(values, parameter, 'array of indices') : values;
  const checked: (number | bigint)[] = [];
  let big = forceBig;
  for (let i = 0, length = items.length; i < length; i++) {
    const v = integerValue(items[i], `${parameter}[${i}]`);
    if (typeof v === 'bigint') {
      if (v < -(1n << 63n) || v >= 1n << 63n) throw validate.invalidRange('integer in the int64 range', `${parameter}[${i}]`, v);
      if (v < BigInt(INT32_MIN) || v > BigInt(INT32_MAX)) big = true;
    } else if (v < INT32_MIN || v > INT32_MAX) {
      big = true;
    }
    checked.push(v);
  }
  if (big) return BigInt64Array.from(checked, (v) => BigInt(v));
  return Int32Array.from(checked, (v) => Number(v));
}

/** Indices (1-D or 2-D) or offsets (1-D) as the binding takes them, with their shape. */
export function toIndices(value: unknown, parameter: string, allow2d: boolean): { array: IndexStorage; shape: number[] } {
  const what = allow2d
    ? 'Int32Array, BigInt64Array or array of integers (or an array of such rows)'
    : 'Int32Array, BigInt64Array or array of integers';
  if (types.isInt32Array(value) || types.isBigInt64Array(value)) {
    validate.attached(value as ArrayBufferView, parameter);
    const array = value as IndexStorage;
    return { array, shape: [array.length] };
  }
  if (!Array.isArray(value)) throw validate.invalidType(what, parameter, value);
  // Read once: a Proxy's length must not differ between the checks and the shape.
  const list = validate.arrayOnce(value, parameter, what);
  const isRow = (v: unknown) => Array.isArray(v) || types.isInt32Array(v) || types.isBigInt64Array(v);
  const rowItems = (row: unknown, r: number): ArrayLike<unknown> =>
    Array.isArray(row) ? validate.arrayOnce(row, `${parameter}[${r}]`, 'row of integers') : (row as ArrayLike<unknown>);
  if (list.length > 0 && isRow(list[0])) {
    if (!allow2d) throw validate.invalidType(what, parameter, value);
    const first = rowItems(list[0], 0);
    const width = first.length;
    const flat: unknown[] = [];
    let big = false;
    for (let r = 0; r < list.length; r++) {
      const row = list[r];
      if (!isRow(row)) throw validate.invalidType('row of integers', `${parameter}[${r}]`, row);
      const items = r === 0 ? first : rowItems(row, r);
      if (items.length !== width) throw validate.invalidRange(`row of ${width} indices (every row the same length)`, `${parameter}[${r}]`, row);
      if (types.isBigInt64Array(row)) big = true;
      for (let i = 0; i < width; i++) flat.push(items[i]);
    }
    return { array: toIndexStorage(flat, parameter, big), shape: [list.length, width] };
  }
  return { array: toIndexStorage(list, parameter, false), shape: [list.length] };
}

/** arange(0, count * step, step) in the indices' integer type: offsets of fixed-size bags. */
/** 0, step, 2 step, ...: from the shape alone, so a traced forward takes it as a constant. */
function arangeOffsets(count: number, step: number, like: IndexStorage): IndexStorage {
  if (types.isBigInt64Array(like) || count * step > INT32_MAX) {
    return traceConstant(BigInt64Array.from({ length: count }, (_, i) => BigInt(i * step)));
  }
  const offsets = new Int32Array(count);
  for (let i = 0; i < count; i++) offsets[i] = i * step;
  return traceConstant(offsets);
}

function modeCode(value: unknown, parameter: string): number {
  if (value === undefined) return 0;
  if (typeof value === 'number') return validate.integerInRange(value, parameter, 0, 2);
  return MODES.indexOf(validate.oneOf(value, parameter, MODES));
}

/** A lookup's checked arguments, as the binding takes them. */
export interface Lookup {
  table: TableView;
  indices: IndexStorage;
  offsets: IndexStorage;
  includeLastOffset: boolean;
  mode: number;
  perSampleWeights: Float32Array | null;
  prunedWeights: boolean;
  compressedIndicesMapping: Int32Array | null;
  paddingIdx: number | null;
  /** The output shape. */
  shape: number[];
}

export interface LookupOptions {
  mode?: EmbeddingBagMode | 0 | 1 | 2;
  prunedWeights?: boolean;
  perSampleWeights?: Tensor | Float32Array | null;
  compressedIndicesMapping?: Int32Array | readonly number[] | null;
  includeLastOffset?: boolean;
  paddingIdx?: number | null;
}

const LOOKUP_OPTIONS = ['mode', 'prunedWeights', 'perSampleWeights', 'compressedIndicesMapping', 'includeLastOffset', 'paddingIdx'];

function floatArray(value: unknown, parameter: string): Float32Array {
  if (value instanceof Tensor) return checkTensor(value, parameter).contiguous().data.subarray(0, value.numel());
  return validate.typedArray(value, parameter, ['Float32Array']);
}

function mappingArray(value: unknown, parameter: string): Int32Array {
  if (types.isInt32Array(value)) {
    validate.attached(value as Int32Array, parameter);
    return value as Int32Array;
  }
  if (!Array.isArray(value)) throw validate.invalidType('Int32Array or array of integers', parameter, value);
  const items = validate.arrayOnce(value, parameter, 'Int32Array or array of integers');
  return Int32Array.from(items, (v, i) => validate.integerInRange(v, `${parameter}[${i}]`, -1, INT32_MAX));
}

/**
 * Checks a bag lookup's arguments and resolves them to what the binding takes. 2-D
 * indices without offsets are fixed-length bags (one per row), as torch treats them.
 */
export function checkLookup(packed: unknown, bits: 8 | 4, indicesValue: unknown, offsetsValue: unknown, optionsValue: unknown): Lookup {
  const table = checkTable(packed, 'packed', bits);
  const opts = validate.options(optionsValue, 'options', LOOKUP_OPTIONS) as LookupOptions;
  const { array: indices, shape } = toIndices(indicesValue, 'indices', true);
  let offsets: IndexStorage;
  let includeLastOffset = opts.includeLastOffset === undefined ? false : validate.boolean(opts.includeLastOffset, 'includeLastOffset');
  if (shape.length === 2) {
    if (offsetsValue !== undefined && offsetsValue !== null) {
      throw validate.invalidRange('no offsets with 2-D indices (each row is one bag)', 'offsets', offsetsValue);
    }
    offsets = arangeOffsets(shape[0], shape[1], indices);
    includeLastOffset = false;
  } else {
    if (offsetsValue === undefined || offsetsValue === null) {
      throw validate.invalidType('offsets (1-D indices need them)', 'offsets', offsetsValue);
    }
    offsets = toIndices(offsetsValue, 'offsets', false).array;
  }
  const mode = modeCode(opts.mode, 'mode');
  const perSampleWeights = opts.perSampleWeights === undefined || opts.perSampleWeights === null ? null : floatArray(opts.perSampleWeights, 'perSampleWeights');
  const prunedWeights = opts.prunedWeights === undefined ? false : validate.boolean(opts.prunedWeights, 'prunedWeights');
  const mappingValue = opts.compressedIndicesMapping;
  const compressedIndicesMapping = mappingValue === undefined || mappingValue === null ? null : mappingArray(mappingValue, 'compressedIndicesMapping');
  if (prunedWeights && compressedIndicesMapping === null) {
    throw validate.invalidType('Int32Array (prunedWeights is true)', 'compressedIndicesMapping', mappingValue);
  }
  const paddingIdx = opts.paddingIdx === undefined || opts.paddingIdx === null ? null : validate.integerInRange(opts.paddingIdx, 'paddingIdx', -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  if (perSampleWeights !== null && perSampleWeights.length !== indices.length) {
    throw validate.invalidRange(`${indices.length} weights (one per index)`, 'perSampleWeights', opts.perSampleWeights);
  }
  if (perSampleWeights !== null && mode !== 0) {
    throw validate.invalidRange("no perSampleWeights with mode mean or max (as float nn.EmbeddingBag: sum only)", 'perSampleWeights', opts.perSampleWeights);
  }
  if (includeLastOffset && offsets.length === 0) {
    throw validate.invalidRange('at least one offset (with includeLastOffset the last one only ends the last bag)', 'offsets', offsetsValue);
  }
  const bags = includeLastOffset ? offsets.length - 1 : offsets.length;
  return {
    table,
    indices,
    offsets,
    includeLastOffset,
    mode,
    perSampleWeights,
    prunedWeights,
    compressedIndicesMapping,
    paddingIdx,
    shape: [bags, table.dim],
  };
}

function lookupArgs(p: Lookup): LookupArgs {
  return [
    p.table.data,
    p.table.rows,
    p.table.rowBytes,
    p.table.bits,
    p.indices,
    p.offsets,
    p.includeLastOffset,
    p.mode,
    p.perSampleWeights,
    p.prunedWeights,
    p.compressedIndicesMapping,
    p.paddingIdx,
  ] as const;
}

/**
 * The native copy of each table an async lookup has read, made once per table: async work
 * must not read the caller's buffer off the JS thread, and copying a large table on every
 * call (136 MB for 10^6 x 128) is what issue 14 measured. Only for tables modules own
 * (never handed to user code, so never written after packing).
 */
const sharedTables = new WeakMap<Uint8Array, TableHandle>();

function sharedTable(packed: Uint8Array): TableHandle {
  let handle = sharedTables.get(packed);
  if (handle === undefined) {
    handle = embeddingAddon.embeddingTable(packed);
    sharedTables.set(packed, handle);
  }
  return handle;
}

/** A module's dispose(): frees the native copy of its table, if an async lookup made one. */
export function releaseSharedTable(packed: Uint8Array): void {
  const handle = sharedTables.get(packed);
  sharedTables.delete(packed);
  if (handle !== undefined) embeddingAddon.releaseWeights(handle);
}

/** The lookup's op plan; `ownedTable`: the table belongs to a module (shared with async runs, copied once, not per call). */
export function lookupPlan(p: Lookup, ownedTable = false): OpPlan<Tensor> {
  const args = lookupArgs(p);
  return makePlan(
    () => embeddingAddon.embeddingBagLookup(...args),
    () => embeddingAddon.embeddingBagLookupAsync(ownedTable ? sharedTable(p.table.data) : args[0], ...(args.slice(1) as unknown as Tail<LookupArgs>)),
    (values) => lookupOutput(values, p.shape),
    { op: 'embeddingBagLookup', args },
  );
}

/**
 * The lookup's output Tensor. The binding's fresh Float32Array of the output's numel is wrapped
 * as it is (the checks of new Tensor() cost as much as the lookup on a small bag); any other
 * length goes to new Tensor(), whose RangeError says what is wrong.
 */
function lookupOutput(values: Float32Array, shape: readonly number[]): Tensor {
  if (!types.isFloat32Array(values) || values.length !== numelOf(shape)) return new Tensor(values, shape);
  // Frozen here: the Tensor keeps frozen arrays as they are (no copies).
  return makeTensor(values, Object.isFrozen(shape) ? shape : Object.freeze(shape.slice()), Object.freeze(contiguousStrides(shape)));
}

/**
 * What a module's eager lookups reuse between calls (lookupFast): the checked view of its packed
 * table, the frozen output shape and strides of the last bag count, and the offsets
 * 0, 1, ..., n - 1 of an Embedding's last index count. An eager call on a small bag was 1-2 us
 * of JS around a ~1.4 us binding call: checkTable's typedArray / shape checks, the options
 * object and its key check, a Lookup, a 12-item argument array spread into the call, the plan's
 * closures, the output shape, strides and offsets made anew.
 */
export class LookupCache {
  /** The packed table `table` was checked from (a module's packed table is never written). */
  packed: PackedTable | null = null;
  table: TableView | null = null;
  /** The output's leading dim and width that `shape` / `strides` hold. */
  bags = -1;
  dim = -1;
  shape: readonly number[] = [];
  strides: readonly number[] = [];
  /** arange(n) as Int32Array and BigInt64Array (an Embedding's offsets): read-only once made. */
  offsets32: Int32Array = new Int32Array(0);
  offsets64: BigInt64Array = new BigInt64Array(0);
}

/** An Int32Array or BigInt64Array with an attached, non-empty buffer; anything else goes the general path. */
function fastIndexArray(value: unknown): value is IndexStorage {
  // byteLength 0: empty, or detached (whose TypeError the general path gives).
  return (types.isInt32Array(value) || types.isBigInt64Array(value)) && (value as IndexStorage).byteLength !== 0;
}

/**
 * The module's checked table: checkTable once per packed table (its errors are the general
 * path's, which checks the table first too), then only that its buffer is still attached.
 */
function cachedTable(cache: LookupCache, packed: PackedTable, bits: 8 | 4): TableView | null {
  let table = cache.table;
  if (cache.packed !== packed || table === null || table.bits !== bits) {
    table = checkTable(packed, 'packed', bits);
    cache.packed = packed;
    cache.table = table;
  }
  // A table of 0 bytes, or a transferred buffer: the general path (which names the latter).
  return table.data.byteLength !== 0 ? table : null;
}

/** The lookup's output over the binding's result: the cached frozen [bags, dim] shape and strides. */
function cachedOutput(cache: LookupCache, values: Float32Array, bags: number, dim: number): Tensor {
  if (cache.bags !== bags || cache.dim !== dim) {
    const shape = Object.freeze([bags, dim]);
    cache.strides = Object.freeze(contiguousStrides(shape));
    cache.shape = shape;
    cache.bags = bags;
    cache.dim = dim;
  }
  if (values.length !== bags * dim || !types.isFloat32Array(values)) return lookupOutput(values, cache.shape);
  return makeTensor(values, cache.shape, cache.strides);
}

/** arange(count) in `like`'s integer type, made once per count (arangeOffsets without the trace constant). */
function cachedArange(cache: LookupCache, count: number, like: IndexStorage): IndexStorage {
  if (types.isBigInt64Array(like)) {
    if (cache.offsets64.length !== count) cache.offsets64 = BigInt64Array.from({ length: count }, (_, i) => BigInt(i));
    return cache.offsets64;
  }
  if (cache.offsets32.length !== count) {
    const offsets = new Int32Array(count);
    for (let i = 0; i < count; i++) offsets[i] = i;
    cache.offsets32 = offsets;
  }
  return cache.offsets32;
}

/**
 * nnq.Embedding's eager forward on 1-D Int32Array / BigInt64Array indices, without a plan: the
 * same binding call with the same arguments as lookupPlan(checkEmbedding(...)).run(). null when
 * tracing (jit.trace records the general path's call) or for any other input: the caller then
 * takes the general path, which gives every error as before.
 */
export function embeddingFast(cache: LookupCache, packed: PackedTable, bits: 8 | 4, indices: unknown, paddingIdx: number | null): Tensor | null {
  if (activeTracer() !== null || !fastIndexArray(indices)) return null;
  const table = cachedTable(cache, packed, bits);
  if (table === null) return null;
  const n = indices.length;
  // checkEmbedding's offsets are int64 when the indices are, or past int32 (the general path's).
  if (n > INT32_MAX) return null;
  const offsets = cachedArange(cache, n, indices);
  const values = embeddingAddon.embeddingBagLookup(table.data, table.rows, table.rowBytes, bits, indices, offsets, false, 0, null, false, null, paddingIdx);
  return cachedOutput(cache, values, n, table.dim);
}

/**
 * nnq.EmbeddingBag's eager forward on 1-D Int32Array / BigInt64Array indices and offsets with no
 * per-sample weights and no mapping (the caller checks those two, the mode and includeLastOffset
 * first, as the general path does): the same binding call as lookupPlan(checkLookup(...)).run().
 * null when tracing or for any other input (the general path then checks and throws as before).
 */
export function embeddingBagFast(
  cache: LookupCache,
  packed: PackedTable,
  bits: 8 | 4,
  indices: unknown,
  offsets: unknown,
  includeLastOffset: boolean,
  mode: number,
  paddingIdx: number | null,
): Tensor | null {
  if (activeTracer() !== null || !fastIndexArray(indices) || !fastIndexArray(offsets)) return null;
  // checkLookup's paddingIdx check (an integer passes as it is).
  if (paddingIdx !== null && !Number.isSafeInteger(paddingIdx)) return null;
  const table = cachedTable(cache, packed, bits);
  if (table === null) return null;
  const values = embeddingAddon.embeddingBagLookup(table.data, table.rows, table.rowBytes, bits, indices, offsets, includeLastOffset, mode, null, false, null, paddingIdx);
  return cachedOutput(cache, values, includeLastOffset ? offsets.length - 1 : offsets.length, table.dim);
}

type Tail<T extends readonly unknown[]> = T extends readonly [unknown, ...infer R] ? R : never;

/** Plan of an Embedding lookup: every index its own bag; output shape [...indices.shape, dim]. */
export function checkEmbedding(packed: unknown, bits: 8 | 4, indicesValue: unknown, paddingIdx: number | null): Lookup {
  const table = checkTable(packed, 'packed', bits);
  const { array: indices, shape } = toIndices(indicesValue, 'indices', true);
  const numel = indices.length;
  return {
    table,
    indices,
    offsets: arangeOffsets(numel, 1, indices),
    includeLastOffset: false,
    mode: 0,
    perSampleWeights: null,
    prunedWeights: false,
    compressedIndicesMapping: null,
    paddingIdx,
    shape: shape.length === 1 ? [shape[0], table.dim] : [shape[0], shape[1], table.dim],
  };
}
