// What a PyTorch pickle may name (the allowlist) and what each allowed global builds: Tensor, QTensor, StoredTensor, containers.
//
// Like torch's own weights_only loader (torch/_weights_only_unpickler.py), anything not listed
// here is refused by name. Unlike Python, nothing listed runs code: each entry is a small
// function over plain values that builds a typed-array view, a Map or an array.

import { QDType, QTensor, makeStridedQuantizedTensor } from '../qtensor';
import { QStorage } from '../native';
import { numelOf, storageExtent } from '../shape';
import { Tensor, makeTensor } from '../tensor';
import { Where, loadError } from './errors';
import { PickleEnvironment, PickleGlobal, isTuple } from './pickle';
import { STORED_DTYPES, StoredDType, StoredTensor, StoredTensorData, makeStoredTensor } from './stored-tensor';

/** Every dtype a storage in a weights file can have, by torch's storage class name. */
export type StorageDType = 'float32' | StoredDType | QDType;

const STORAGE_CLASSES: Readonly<Record<string, StorageDType>> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  QUInt8Storage: 'quint8',
  QInt8Storage: 'qint8',
  QInt32Storage: 'qint32',
  QUInt4x2Storage: 'quint4x2',
};

/** Bytes per storage element (quint4x2 storages count bytes, each holding two values). */
const ELEMENT_BYTES: Readonly<Record<StorageDType, number>> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
  quint8: 1, qint8: 1, qint32: 4, quint4x2: 1,
};

/** torch's dtype objects (pickled as globals of module torch), named as the state dict shows them. */
const DTYPE_GLOBALS = [
  'float32', 'float', 'float64', 'double', 'float16', 'half', 'bfloat16', 'int64', 'long', 'int32', 'int', 'int16', 'short',
  'int8', 'uint8', 'bool', 'quint8', 'qint8', 'qint32', 'quint4x2', 'quint2x4', 'complex64', 'complex128',
];
const QSCHEME_GLOBALS = ['per_tensor_affine', 'per_channel_affine', 'per_channel_affine_float_qparams', 'per_tensor_symmetric', 'per_channel_symmetric'];

/**
 * The callables and classes a weights file may name, as `module.name` (the allowlist of
 * doc/models.md). dtypes, qschemes and storage classes are allowed as values too.
 */
export const ALLOWED_CALLABLES: readonly string[] = [
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'torch._utils._rebuild_qtensor',
  'torch.Size',
  'torch.device',
  '_codecs.encode',
  'torch.jit._pickle.build_intlist',
  'torch.jit._pickle.build_doublelist',
  'torch.jit._pickle.build_boollist',
  'torch.jit._pickle.build_tensorlist',
  'torch.jit._pickle.build_strlist',
  'torch.jit._pickle.restore_type_tag',
];

/** A global the pickle named: module and name. */
class GlobalName implements PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {
    Object.freeze(this);
  }

  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A callable or class token from the allowlist. */
class AllowedGlobal extends GlobalName {}

/** A storage class token (torch.FloatStorage, ...): only a persistent id may use it. */
class StorageClass {
  constructor(readonly dtype: StorageDType) {
    Object.freeze(this);
  }
}

/** A class compiled by TorchScript (`__torch__.…`): its instances are data only, never run. */
export class ScriptClass extends GlobalName {}

/** An instance of a TorchScript class: its class name and the state BUILD gave it (a dict for modules, a tuple for __getstate__ classes). */
export class ScriptObject {
  state: unknown = undefined;

  constructor(readonly className: string) {}
}

/** A storage named by a persistent id: its bytes are the archive entry data/<key>. */
interface Storage {
  readonly dtype: StorageDType;
  readonly numel: number;
  readonly array: StoredTensorData | Float32Array;
}

/** Reads the storages of one archive, each once, as typed arrays over the file's bytes when aligned. */
export type StorageReader = (key: string) => Uint8Array;

const ARRAY_TYPES = {
  Float32Array,
  Float64Array,
  BigInt64Array,
  Int32Array,
  Int16Array,
  Int8Array,
  Uint8Array,
  Uint16Array,
} as const;

function arrayTypeOf(dtype: StorageDType): keyof typeof ARRAY_TYPES {
  switch (dtype) {
    case 'float32':
      return 'Float32Array';
    case 'quint8':
    case 'quint4x2':
      return 'Uint8Array';
    case 'qint8':
      return 'Int8Array';
    case 'qint32':
      return 'Int32Array';
    default:
      return STORED_DTYPES[dtype] as keyof typeof ARRAY_TYPES;
  }
}

/** A typed array over `bytes`: a view when the offset is aligned for the element size, else one copy of the bytes. */
function typedView(dtype: StorageDType, bytes: Uint8Array, numel: number): Storage['array'] {
  const Type = ARRAY_TYPES[arrayTypeOf(dtype)];
  const size = ELEMENT_BYTES[dtype];
  if (bytes.byteOffset % size === 0) return new Type(bytes.buffer as ArrayBuffer, bytes.byteOffset, numel) as Storage['array'];
  // Unaligned (an archive not written by PyTorch, or a buffer the caller sliced): one memcpy, no per-element work.
  const copy = new Uint8Array(numel * size);
  copy.set(bytes.subarray(0, numel * size));
  return new Type(copy.buffer, 0, numel) as Storage['array'];
}

/** Options of one unpickling: which file, whether TorchScript classes may appear. */
export interface TorchPickleOptions {
  readonly where: Where;
  readonly torchScript: boolean;
  readonly readStorage: StorageReader;
}

/** The PickleEnvironment for torch.save and torch.jit.save pickles. */
export function torchEnvironment(options: TorchPickleOptions): PickleEnvironment {
  const { where, torchScript, readStorage } = options;
  const storages = new Map<string, Storage>();
  const allowed = new Set(ALLOWED_CALLABLES);
  const fail = (problem: string): never => {
    throw loadError(where, problem);
  };

  const storageFor = (pid: unknown): Storage => {
    if (!isTuple(pid) || pid.length !== 5 || pid[0] !== 'storage') return fail('unsupported persistent id (expected a storage tuple)');
    const [, type, key, , numel] = pid as readonly unknown[];
    if (!(type instanceof StorageClass)) return fail('corrupted storage reference: its type is not a storage class');
    if (typeof key !== 'string' || !/^[0-9A-Za-z_]+$/.test(key)) return fail('corrupted storage reference: bad storage key');
    if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) return fail(`corrupted storage reference: bad size for storage ${key}`);
    const known = storages.get(key);
    if (known !== undefined) {
      if (known.dtype !== type.dtype) fail(`storage ${key} is referenced as both ${known.dtype} and ${type.dtype}`);
      return known;
    }
    const bytes = readStorage(key);
    const expected = numel * ELEMENT_BYTES[type.dtype];
    if (bytes.length !== expected) {
      fail(`bad storage size: storage ${key} holds ${bytes.length} bytes, ${numel} ${type.dtype} elements need ${expected}`);
    }
    const storage = { dtype: type.dtype, numel, array: typedView(type.dtype, bytes, numel) };
    storages.set(key, storage);
    return storage;
  };

  const dims = (value: unknown, what: string): number[] => {
    if (!Array.isArray(value)) return fail(`corrupted tensor: ${what} is not a tuple`);
    for (const d of value) if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) fail(`corrupted tensor: ${what} holds ${String(d)}`);
    return value.slice() as number[];
  };

  /** Where a tensor lies in its storage, checked: the storage must hold every element its size and strides address. */
  const layout = (storage: unknown, offset: unknown, size: unknown, stride: unknown): { storage: Storage; offset: number; shape: number[]; strides: number[]; extent: number } => {
    if (storage === null || typeof storage !== 'object' || !('dtype' in storage) || !('array' in storage)) return fail('corrupted tensor: its storage is not a storage');
    const s = storage as Storage;
    const shape = dims(size, 'size');
    const strides = dims(stride, 'stride');
    if (strides.length !== shape.length) fail(`corrupted tensor: size has ${shape.length} dims but stride ${strides.length}`);
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) fail('corrupted tensor: bad storage offset');
    const numel = numelOf(shape);
    if (!Number.isSafeInteger(numel)) fail('corrupted tensor: size overflows');
    const extent = numel === 0 ? 0 : storageExtent(shape, strides);
    const capacity = s.dtype === 'quint4x2' ? s.numel * 2 : s.numel;
    const start = s.dtype === 'quint4x2' ? (offset as number) * 2 : (offset as number);
    if (numel > 0 && start + extent > capacity) {
      fail(`tensor of size [${shape.join(', ')}] with strides [${strides.join(', ')}] at offset ${offset as number} lies past the end of its ${s.dtype} storage of ${s.numel} elements`);
    }
    return { storage: s, offset: offset as number, shape, strides, extent };
  };

  const rebuildTensor = (args: readonly unknown[]): Tensor | StoredTensor => {
    if (args.length < 4) fail('corrupted tensor: too few arguments to _rebuild_tensor');
    const { storage, offset, shape, strides, extent } = layout(args[0], args[1], args[2], args[3]);
    const data = storage.array.subarray(offset, offset + extent);
    if (storage.dtype === 'float32') return makeTensor(data as Float32Array, shape, strides);
    if (storage.dtype in STORED_DTYPES) return makeStoredTensor(storage.dtype as StoredDType, data as StoredTensorData, shape, strides);
    return fail(`a ${storage.dtype} storage rebuilt as a plain tensor (quantized tensors use _rebuild_qtensor)`);
  };

  /**
   * Per-channel scales or zero points as the typed arrays makeStridedQuantizedTensor checks in
   * one loop: float64 scales (Float64Array), int64 zero points (Int32Array), float32 scales and
   * zero points of float qparams (Float32Array). Other dtypes, layouts, and int64 values beyond
   * int32 go through toNumbers(), whose numbers the qparams checks then name.
   */
  const channelValues = (value: unknown, what: string): ArrayLike<number> => {
    if (value instanceof Tensor) return value.contiguous().data.subarray(0, value.numel());
    if (!(value instanceof StoredTensor)) return fail(`corrupted quantized tensor: ${what} is not a tensor`);
    const data = value.data;
    if (value.shape.length !== 1 || value.strides[0] !== 1) return value.toNumbers();
    const count = value.shape[0];
    if (data instanceof BigInt64Array) {
      // Read each int64 as two int32 words (no BigInt arithmetic): exact when the high word is the low word's sign.
      const words = new Int32Array(data.buffer, data.byteOffset, count * 2);
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const low = words[2 * i];
        if (words[2 * i + 1] !== low >> 31) return value.toNumbers();
        out[i] = low;
      }
      return out;
    }
    if (data instanceof Float64Array) return data.subarray(0, count);
    return value.toNumbers();
  };

  const rebuildQTensor = (args: readonly unknown[]): QTensor => {
    if (args.length < 5) fail('corrupted quantized tensor: too few arguments to _rebuild_qtensor');
    const { storage, offset, shape, strides, extent } = layout(args[0], args[1], args[2], args[3]);
    const dtype = storage.dtype;
    if (dtype !== 'quint8' && dtype !== 'qint8' && dtype !== 'qint32' && dtype !== 'quint4x2') return fail(`quantized tensor over a ${dtype} storage`);
    const params = args[4];
    if (!Array.isArray(params) || params.length < 1) return fail('corrupted quantized tensor: bad quantizer parameters');
    const qscheme = params[0];
    // quint4x2 offsets and strides count 4-bit elements; the view starts at the byte holding the first one.
    const packed = dtype === 'quint4x2';
    if (packed && offset !== 0) fail('quint4x2 tensor at a non-zero storage offset (not supported)');
    const data = (packed ? storage.array : storage.array.subarray(offset, offset + extent)) as QStorage;
    try {
      if (qscheme === 'torch.per_tensor_affine') {
        if (params.length !== 3) fail('corrupted quantized tensor: per_tensor_affine takes (qscheme, scale, zero_point)');
        return makeStridedQuantizedTensor(data, shape, strides, dtype, { scale: params[1] as number, zeroPoint: params[2] as number });
      }
      if (qscheme === 'torch.per_channel_affine' || qscheme === 'torch.per_channel_affine_float_qparams') {
        if (params.length !== 4) fail(`corrupted quantized tensor: ${qscheme as string} takes (qscheme, scales, zero_points, axis)`);
        // torch pickles float-qparams tensors as per_channel_affine too; float zero points (a
        // float32 tensor) are what tells them apart, and select that scheme in makeStridedQuantizedTensor.
        const floatZeroPoints = params[2] instanceof Tensor;
        const scales = floatZeroPoints ? Float32Array.from(channelValues(params[1], 'scales')) : channelValues(params[1], 'scales');
        const zeroPoints = floatZeroPoints ? Float32Array.from(channelValues(params[2], 'zero_points')) : channelValues(params[2], 'zero_points');
        return makeStridedQuantizedTensor(data, shape, strides, dtype, { scales, zeroPoints, axis: params[3] as number });
      }
    } catch (error) {
      if (error instanceof TypeError || error instanceof RangeError) fail(`bad quantized tensor: ${error.message}`);
      throw error;
    }
    return fail(`unsupported qscheme ${String(qscheme)} for a quantized tensor`);
  };

  const firstList = (args: readonly unknown[], name: string): unknown[] => {
    if (args.length < 1 || !Array.isArray(args[0])) fail(`corrupted pickle: ${name} takes a list`);
    return args[0] as unknown[];
  };

  return {
    resolveGlobal(module: string, name: string): unknown {
      const qualified = `${module}.${name}`;
      if (allowed.has(qualified)) return new AllowedGlobal(module, name);
      if (module === 'torch' && name in STORAGE_CLASSES) return new StorageClass(STORAGE_CLASSES[name]);
      if (module === 'torch' && (DTYPE_GLOBALS.includes(name) || QSCHEME_GLOBALS.includes(name))) return qualified;
      if (torchScript && (module === '__torch__' || module.startsWith('__torch__.'))) return new ScriptClass(module, name);
      return fail(`refusing to load ${qualified}: qkernels loads weights only; save model.state_dict()`);
    },

    reduce(callable: unknown, args: unknown[]): unknown {
      if (!(callable instanceof AllowedGlobal)) return fail(`corrupted pickle: REDUCE on ${callable instanceof ScriptClass ? callable.qualifiedName : 'a value that is not an allowed callable'}`);
      switch (callable.qualifiedName) {
        case 'collections.OrderedDict': {
          const dict = new Map<unknown, unknown>();
          if (args.length > 0 && Array.isArray(args[0])) {
            for (const pair of args[0] as unknown[]) {
              if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string') fail('corrupted OrderedDict items');
              dict.set((pair as unknown[])[0], (pair as unknown[])[1]);
            }
          }
          return dict;
        }
        case 'torch._utils._rebuild_tensor':
        case 'torch._utils._rebuild_tensor_v2':
          return rebuildTensor(args);
        case 'torch._utils._rebuild_parameter':
        case 'torch._utils._rebuild_parameter_with_state':
          if (!(args[0] instanceof Tensor || args[0] instanceof QTensor || args[0] instanceof StoredTensor)) fail('corrupted parameter: not a tensor');
          return args[0];
        case 'torch._utils._rebuild_qtensor':
          return rebuildQTensor(args);
        case 'torch.Size':
          return args.length === 0 ? [] : dims(args[0], 'torch.Size');
        case 'torch.device':
          if (typeof args[0] !== 'string') fail('corrupted torch.device');
          return args[0];
        case '_codecs.encode':
          if (typeof args[0] !== 'string' || (args[1] !== 'latin1' && args[1] !== 'latin-1')) fail('unsupported _codecs.encode call (only latin1 bytes)');
          return Uint8Array.from(Buffer.from(args[0] as string, 'latin1'));
        case 'torch.jit._pickle.restore_type_tag':
          return args[0];
        default: // the build_*list helpers of TorchScript: the list itself
          return firstList(args, callable.name);
      }
    },

    newObject(cls: unknown, args: unknown[]): unknown {
      if (cls instanceof ScriptClass) {
        if (args.length !== 0) fail(`corrupted TorchScript object ${cls.qualifiedName}: NEWOBJ with arguments`);
        return new ScriptObject(cls.qualifiedName);
      }
      return fail(`refusing to instantiate ${cls instanceof AllowedGlobal ? cls.qualifiedName : 'a value that is not a class'}: qkernels loads weights only`);
    },

    build(object: unknown, state: unknown): unknown {
      if (object instanceof ScriptObject) {
        if (object.state !== undefined) fail(`corrupted TorchScript object ${object.className}: state set twice`);
        object.state = state;
        return object;
      }
      // OrderedDict's BUILD carries its instance attributes (state_dict's _metadata: per-module versions), which a weights reader needs not.
      if (object instanceof Map) return object;
      return fail('corrupted pickle: BUILD on an object that takes no state');
    },

    persistentLoad: storageFor,
  };
}
