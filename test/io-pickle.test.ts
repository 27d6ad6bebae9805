// The restricted unpickler on hand-made pickles (bombs, bad indexes, refused globals) and StoredTensor's accessors.
import { StoredTensor, Tensor, load } from '..';
import type { StateValue } from '..';
import { inspectRows } from '../dist/cli/inspect';
import { expectLoadError, expectValidationError } from './helpers/errors';
import { PickleBuilder, makeTorchArchive } from './helpers/zip-writer';

const PROTO2 = [0x80, 2];

/** A pickle of {key: <body>} where body leaves exactly one value on the stack. */
function dictPickle(key: string, body: (p: PickleBuilder) => void): Uint8Array {
  const p = new PickleBuilder().op(PROTO2[0], PROTO2[1]).op(0x7d).unicode(key);
  body(p);
  return p.op(0x73).op(0x2e).bytes();
}

function loadPickle(pickle: Uint8Array, storages: Record<string, Uint8Array> = {}): Map<string, StateValue> {
  return load(makeTorchArchive(pickle, storages));
}

/** (storage, 0, size, stride, False, OrderedDict()) rebuilt by _rebuild_tensor_v2 over storage key '0' of `numel` float32s. */
function floatTensorPickle(size: number[], stride: number[], numel: number): Uint8Array {
  return dictPickle('t', (p) => {
    p.global('torch._utils', '_rebuild_tensor_v2').op(0x28);
    p.op(0x28).unicode('storage').global('torch', 'FloatStorage').unicode('0').unicode('cpu').op(0x4a).u32(numel).op(0x74).op(0x51);
    p.op(0x4b, 0);
    p.op(0x28);
    for (const d of size) p.op(0x4a).u32(d);
    p.op(0x74).op(0x28);
    for (const s of stride) p.op(0x4a).u32(s);
    p.op(0x74).op(0x89);
    p.global('collections', 'OrderedDict').op(0x29).op(0x52);
    p.op(0x74).op(0x52);
  });
}

describe('restricted unpickler', () => {
  test('a hand-made float tensor loads as a view over its storage', () => {
    const storage = new Uint8Array(Float32Array.of(1, 2, 3, 4, 5, 6).buffer);
    const t = loadPickle(floatTensorPickle([2, 3], [1, 2], 6), { 0: storage }).get('t') as Tensor;
    expect(t).toBeInstanceOf(Tensor);
    expect(t.shape).toEqual([2, 3]);
    expect(t.strides).toEqual([1, 2]);
    expect(Array.from(t.contiguous().data)).toEqual([1, 3, 5, 2, 4, 6]);
  });

  test('zip64 archives (sizes and offsets in zip64 records, as past 4 GiB) read the same', () => {
    const storage = new Uint8Array(Float32Array.of(1, 2, 3, 4).buffer);
    const archive = makeTorchArchive(floatTensorPickle([4], [1], 4), { 0: storage }, { zip64: true });
    expect(archive.readUInt32LE(archive.length - 22 - 20)).toBe(0x07064b50);
    expect(Array.from((load(archive).get('t') as Tensor).data)).toEqual([1, 2, 3, 4]);
  });

  test('a tensor addressing past its storage is refused', () => {
    const storage = new Uint8Array(16);
    expectLoadError(() => loadPickle(floatTensorPickle([10], [1], 4), { 0: storage }), /size \[10\] with strides \[1\] at offset 0 lies past the end of its float32 storage of 4 elements/);
  });

  test('a storage whose entry is shorter than its declared size is refused', () => {
    expectLoadError(() => loadPickle(floatTensorPickle([4], [1], 4), { 0: new Uint8Array(12) }), /bad storage size: storage 0 holds 12 bytes, 4 float32 elements need 16/);
  });

  test('a storage entry that is missing is named', () => {
    expectLoadError(() => loadPickle(floatTensorPickle([4], [1], 4)), /archive\/data\/0.*missing tensor storage entry/);
  });

  test.each([
    ['os', 'system'],
    ['builtins', 'eval'],
    ['__builtin__', 'getattr'],
    ['torch', 'load'],
    ['__torch__.Net', 'Net'],
    ['torch.nn.modules.linear', 'Linear'],
  ])('global %s.%s is refused by name', (module, name) => {
    const pickle = dictPickle('x', (p) => p.global(module, name));
    expectLoadError(() => loadPickle(pickle), new RegExp(`refusing to load ${`${module}.${name}`.replace(/\./g, '\\.')}: qkernels loads weights only`));
  });

  test('REDUCE of a value that is not an allowed callable is refused', () => {
    const pickle = dictPickle('x', (p) => p.global('torch', 'qint8').op(0x29).op(0x52));
    expectLoadError(() => loadPickle(pickle), /REDUCE on a value that is not an allowed callable/);
  });

  test('NEWOBJ of an allowed callable is refused', () => {
    const pickle = dictPickle('x', (p) => p.global('collections', 'OrderedDict').op(0x29).op(0x81));
    expectLoadError(() => loadPickle(pickle), /refusing to instantiate collections\.OrderedDict/);
  });

  test('a memo index that was never stored is an error, whatever its size', () => {
    expectLoadError(() => loadPickle(dictPickle('x', (p) => p.op(0x6a).u32(0xffffffff))), /memo index 4294967295 was never stored/);
    expectLoadError(() => loadPickle(dictPickle('x', (p) => p.op(0x68, 7))), /memo index 7 was never stored/);
  });

  test('a huge memo index can be stored and read back (no allocation by index)', () => {
    const sd = loadPickle(dictPickle('x', (p) => p.op(0x4b, 5).op(0x72).u32(0xfffffffe).op(0x30).op(0x6a).u32(0xfffffffe)));
    expect(sd.get('x')).toBe(5);
  });

  test('lengths past the end are truncation errors', () => {
    expectLoadError(() => loadPickle(dictPickle('x', (p) => p.op(0x58).u32(0xffffffff))), /truncated pickle/);
    expectLoadError(() => loadPickle(Uint8Array.of(0x80, 2, 0x7d)), /truncated pickle: no STOP opcode/);
  });

  test('unknown opcodes and stack underflow are errors', () => {
    expectLoadError(() => loadPickle(dictPickle('x', (p) => p.op(0x69))), /unsupported or corrupted pickle opcode 0x69/);
    expectLoadError(() => loadPickle(Uint8Array.of(0x80, 2, 0x30, 0x2e)), /pop from an empty stack/);
    expectLoadError(() => loadPickle(Uint8Array.of(0x80, 2, 0x74, 0x2e)), /no MARK/);
  });

  test('a deep nesting bomb loads without recursion and inspects within bounds', () => {
    const depth = 100000;
    const sd = loadPickle(
      dictPickle('deep', (p) => {
        for (let i = 0; i < depth; i++) p.op(0x5d);
        for (let i = 1; i < depth; i++) p.op(0x61);
      }),
    );
    let node = sd.get('deep') as StateValue[];
    let levels = 1;
    while (node.length === 1) {
      node = node[0] as StateValue[];
      levels++;
    }
    expect(levels).toBe(depth);
    const { rows } = inspectRows(sd);
    expect(rows.length).toBe(1);
    expect(rows[0].qparams).toMatch(/nested too deep/);
  });

  test('a shared-reference (billion laughs) bomb and a cycle stay bounded when inspected', () => {
    const sd = loadPickle(
      dictPickle('laughs', (p) => {
        // x = []; 64 times: x = [x, x]  (2^64 paths through 65 lists)
        p.op(0x5d).op(0x71, 0).op(0x30);
        for (let i = 0; i < 64; i++) p.op(0x28).op(0x68, 0).op(0x68, 0).op(0x6c).op(0x71, 0).op(0x30);
        p.op(0x68, 0);
      }),
    );
    const started = Date.now();
    const { truncated } = inspectRows(sd);
    expect(truncated).toBe(true);
    expect(Date.now() - started).toBeLessThan(5000);
    const cyclic = loadPickle(dictPickle('cycle', (p) => p.op(0x5d).op(0x71, 0).op(0x68, 0).op(0x61)));
    expect(inspectRows(cyclic).rows.length).toBe(1);
  });

  test('a file that holds something other than a dict of tensors says so', () => {
    expectLoadError(() => loadPickle(Uint8Array.of(0x80, 2, 0x5d, 0x2e)), /holds a list or tuple, not a state dict/);
    expectLoadError(() => loadPickle(Uint8Array.of(0x80, 2, 0x7d, 0x4b, 1, 0x4b, 2, 0x73, 0x2e)), /dict with non-string keys/);
  });
});

describe('StoredTensor', () => {
  test('item() and toNumbers() of every storage kind', () => {
    expect(new StoredTensor('int64', BigInt64Array.of(-7n), []).item()).toBe(-7);
    expect(new StoredTensor('bool', Uint8Array.of(1), [1]).item()).toBe(true);
    expect(new StoredTensor('float16', Uint16Array.of(0x3c00, 0xc000, 0x7c00, 0x0001, 0x3555), [5]).toNumbers()).toEqual([1, -2, Infinity, 2 ** -24, 0.333251953125]);
    expect(new StoredTensor('bfloat16', Uint16Array.of(0x3f80, 0xc0a0), [2]).toNumbers()).toEqual([1, -5]);
    // Strided: a transposed 2x3 view lists in logical order.
    expect(new StoredTensor('int32', Int32Array.of(1, 2, 3, 4, 5, 6), [3, 2], [1, 3]).toNumbers()).toEqual([1, 4, 2, 5, 3, 6]);
    expect(new StoredTensor('float64', Float64Array.of(0.1, 0.2), [2]).toString()).toContain('dtype=torch.float64');
  });

  test('errors: int64 beyond 2^53, item() of several elements, bad construction', () => {
    expect(() => new StoredTensor('int64', BigInt64Array.of(2n ** 60n), []).item()).toThrow(/no exact JavaScript number/);
    expectValidationError(() => new StoredTensor('int32', Int32Array.of(1, 2), [2]).item(), 'RangeError', 'this');
    expectValidationError(() => new StoredTensor('int64', Int32Array.of(1) as unknown as BigInt64Array, [1]), 'TypeError', 'data');
    expectValidationError(() => new StoredTensor('complex64' as 'int8', Int8Array.of(1), [1]), 'RangeError', 'dtype');
    expectValidationError(() => new StoredTensor('int8', Int8Array.of(1, 2), [3]), 'RangeError', 'data');
    expectValidationError(() => new StoredTensor('int8', Int8Array.of(1, 2), [2, 2], [2, 1]), 'RangeError', 'data');
  });
});
