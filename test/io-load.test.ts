// load()/loadAsync()/loadArchive() against torch: files torch.save and torch.jit.save wrote (oracle), every tensor compared bit for bit; refusals and corrupt files.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { LoadError, QTensor, StoredTensor, Tensor, load, loadArchive, loadArchiveAsync, loadAsync } from '..';
import type { StateValue } from '..';
import { inspectRows } from '../dist/cli/inspect';
import { ZipArchive } from '../dist/io/zip';
import { expectLoadError, expectValidationError } from './helpers/errors';
import { Rng, testSeed } from './helpers/random';
import { makeZip } from './helpers/zip-writer';
import { describeOracle, okResult, runOracle } from './oracle';

interface Descriptor {
  kind: 'tensor' | 'qtensor' | 'list' | 'dict' | 'bigint' | 'bytes' | 'value';
  dtype?: string;
  qscheme?: string;
  shape?: number[];
  stride?: number[];
  b64?: string;
  scale?: number;
  zero_point?: number;
  scales?: string;
  zero_points?: number[];
  axis?: number;
  items?: unknown[];
  value?: unknown;
}

interface FixtureFile {
  entries: Array<[string, Descriptor]>;
  attributes: Record<string, number>;
}

const ELEMENT_BYTES: Record<string, number> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

/** The bytes of a strided tensor's elements in logical order (the test's own gather, independent of the library's). */
function logicalBytes(data: ArrayBufferView, elementBytes: number, shape: readonly number[], strides: readonly number[]): Buffer {
  const numel = shape.reduce((a, b) => a * b, 1);
  const source = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out = Buffer.alloc(numel * elementBytes);
  for (let n = 0; n < numel; n++) {
    let rest = n;
    let offset = 0;
    for (let d = shape.length - 1; d >= 0; d--) {
      offset += (rest % shape[d]) * strides[d];
      rest = Math.floor(rest / shape[d]);
    }
    source.copy(out, n * elementBytes, offset * elementBytes, (offset + 1) * elementBytes);
  }
  return out;
}

function bytesOf(array: ArrayBufferView): Buffer {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

/** Compares a loaded value with torch's descriptor; pushes one message per difference. */
function compare(actual: unknown, expected: Descriptor, key: string, failures: string[]): void {
  const fail = (what: string): void => {
    failures.push(`${key}: ${what}`);
  };
  switch (expected.kind) {
    case 'tensor': {
      const isFloat = expected.dtype === 'float32';
      if (isFloat ? !(actual instanceof Tensor) : !(actual instanceof StoredTensor)) return fail(`expected ${isFloat ? 'Tensor' : 'StoredTensor'}, got ${String(actual)}`);
      const t = actual as Tensor | StoredTensor;
      if (t instanceof StoredTensor && t.dtype !== expected.dtype) fail(`dtype ${t.dtype} != ${expected.dtype}`);
      if (JSON.stringify(t.shape) !== JSON.stringify(expected.shape)) fail(`shape [${t.shape}] != [${expected.shape}]`);
      if (JSON.stringify(t.strides) !== JSON.stringify(expected.stride)) fail(`strides [${t.strides}] != [${expected.stride}]`);
      const got = logicalBytes(t.data, ELEMENT_BYTES[expected.dtype!], t.shape, t.strides);
      if (!got.equals(Buffer.from(expected.b64!, 'base64'))) fail('values differ from torch');
      return;
    }
    case 'qtensor': {
      if (!(actual instanceof QTensor)) return fail(`expected QTensor, got ${String(actual)}`);
      if (actual.dtype !== expected.dtype) fail(`dtype ${actual.dtype} != ${expected.dtype}`);
      if (actual.qscheme !== expected.qscheme) fail(`qscheme ${actual.qscheme} != ${expected.qscheme}`);
      if (JSON.stringify(actual.shape) !== JSON.stringify(expected.shape)) fail(`shape [${actual.shape}] != [${expected.shape}]`);
      if (JSON.stringify(actual.strides) !== JSON.stringify(expected.stride)) fail(`strides [${actual.strides}] != [${expected.stride}]`);
      if (!bytesOf(actual.intRepr()).equals(Buffer.from(expected.b64!, 'base64'))) fail('int_repr differs from torch');
      if (expected.qscheme === 'per_tensor_affine') {
        if (actual.qScale() !== expected.scale || actual.qZeroPoint() !== expected.zero_point) {
          fail(`qparams (${actual.qScale()}, ${actual.qZeroPoint()}) != (${expected.scale}, ${expected.zero_point})`);
        }
      } else {
        if (!bytesOf(actual.qPerChannelScales()).equals(Buffer.from(expected.scales!, 'base64'))) fail('per-channel scales differ from torch');
        if (JSON.stringify(Array.from(actual.qPerChannelZeroPoints())) !== JSON.stringify(expected.zero_points)) fail('per-channel zero points differ from torch');
        if (actual.qPerChannelAxis() !== expected.axis) fail(`axis ${actual.qPerChannelAxis()} != ${expected.axis}`);
      }
      return;
    }
    case 'list': {
      const items = expected.items as Descriptor[];
      if (!Array.isArray(actual) || actual.length !== items.length) return fail(`expected a list of ${items.length}, got ${String(actual)}`);
      items.forEach((item, i) => compare(actual[i], item, `${key}[${i}]`, failures));
      return;
    }
    case 'dict': {
      const items = expected.items as Array<[string, Descriptor]>;
      if (!(actual instanceof Map)) return fail(`expected a Map, got ${String(actual)}`);
      const keys = Array.from(actual.keys());
      if (JSON.stringify(keys) !== JSON.stringify(items.map(([k]) => k))) return fail(`keys [${keys}] != [${items.map(([k]) => k)}]`);
      for (const [name, item] of items) compare(actual.get(name), item, `${key}.${name}`, failures);
      return;
    }
    case 'bigint':
      if (typeof actual !== 'bigint' || String(actual) !== expected.value) fail(`expected bigint ${String(expected.value)}, got ${String(actual)}`);
      return;
    case 'bytes':
      if (!(actual instanceof Uint8Array) || !Buffer.from(actual).equals(Buffer.from(expected.b64!, 'base64'))) fail('bytes differ');
      return;
    default:
      if (JSON.stringify(actual) !== JSON.stringify(expected.value)) fail(`value ${JSON.stringify(actual)} != ${JSON.stringify(expected.value)}`);
  }
}

function compareStateDict(actual: ReadonlyMap<string, StateValue>, expected: FixtureFile): string[] {
  const failures: string[] = [];
  compare(actual, { kind: 'dict', items: expected.entries }, '', failures);
  return failures;
}

/** The offset of the central directory record of entry `name`. */
function centralHeaderOf(bytes: Buffer, name: string): number {
  const signature = Buffer.from([0x50, 0x4b, 0x01, 0x02]);
  for (let at = bytes.indexOf(signature); at >= 0; at = bytes.indexOf(signature, at + 4)) {
    if (bytes.toString('utf8', at + 46, at + 46 + bytes.readUInt16LE(at + 28)) === name) return at;
  }
  throw new Error(`no central directory record for ${name}`);
}

// The oracle writes the fixture files once for the whole file (a temp dir, removed at the end).
let fixtureDir = '';
let fixtureFiles: Record<string, FixtureFile> | undefined;

function fixtures(): { dir: string; files: Record<string, FixtureFile> } {
  if (fixtureFiles === undefined) {
    fixtureDir = fs.mkdtempSync(path.join(os.tmpdir(), 'qkernels-io-'));
    const [result] = runOracle([{ op: 'io_fixtures', dir: fixtureDir }], { engine: 'onednn' });
    fixtureFiles = okResult(result, 'io_fixtures').files as Record<string, FixtureFile>;
  }
  return { dir: fixtureDir, files: fixtureFiles };
}

afterAll(() => {
  if (fixtureDir) fs.rmSync(fixtureDir, { recursive: true, force: true });
});

describeOracle('load: files written by torch 1.13', () => {
  let dir = '';
  let files: Record<string, FixtureFile> = {};

  beforeAll(() => {
    ({ dir, files } = fixtures());
  });

  const names = ['vision', 'convs', 'embeddings', 'dynamic8'];
  for (const name of [...names.map((n) => `${n}.pt`), ...names.map((n) => `${n}.jit.pt`), 'tensors.pt', 'checkpoint.pt']) {
    test(`${name}: every key, in order, bit for bit`, () => {
      const archive = loadArchive(path.join(dir, name));
      expect(archive.format).toBe(name.endsWith('.jit.pt') ? 'torchscript' : 'torch.save');
      expect(compareStateDict(archive.stateDict, files[name])).toEqual([]);
      expect(Object.fromEntries(archive.attributes)).toEqual(files[name].attributes);
    });
  }

  test('the TorchScript archives name the qparams state_dict() lacks (Hardswish, ELU)', () => {
    expect(Object.keys(files['vision.jit.pt'].attributes).sort()).toEqual(['elu.scale', 'elu.zero_point', 'hardswish.scale', 'hardswish.zero_point']);
  });

  test('loadAsync and load of a buffer give the same state dict as load of the path', async () => {
    const file = path.join(dir, 'vision.pt');
    expect(compareStateDict(await loadAsync(file), files['vision.pt'])).toEqual([]);
    expect(compareStateDict(load(fs.readFileSync(file)), files['vision.pt'])).toEqual([]);
    expect(compareStateDict((await loadArchiveAsync(path.join(dir, 'vision.jit.pt'))).stateDict, files['vision.jit.pt'])).toEqual([]);
  });

  test('tensors are views over the file bytes (zero copy) where aligned', () => {
    const bytes = fs.readFileSync(path.join(dir, 'tensors.pt'));
    const sd = load(bytes);
    for (const key of ['view.base', 'per_tensor.qint32', 'int64', 'float64', 'per_channel.qint8.axis0']) {
      const value = sd.get(key) as Tensor | QTensor | StoredTensor;
      expect({ key, shared: value.data.buffer === bytes.buffer }).toEqual({ key, shared: true });
    }
    // A view with a storage offset shares the storage of its base.
    expect((sd.get('view.offset') as Tensor).data.buffer).toBe((sd.get('view.base') as Tensor).data.buffer);
    // Unaligned input bytes (an odd offset) are copied once, and still read right.
    const shifted = Buffer.alloc(bytes.length + 1);
    bytes.copy(shifted, 1);
    expect(compareStateDict(load(shifted.subarray(1)), files['tensors.pt'])).toEqual([]);
  });

  test('a pickled model is refused, naming its class', () => {
    const error = expectLoadError(() => load(path.join(dir, 'whole_model.pt')), /refusing to load __main__\.Net: qkernels loads weights only; save model\.state_dict\(\)/);
    expect(error.file).toBe(path.join(dir, 'whole_model.pt'));
    expect(error.entry).toBe('whole_model/data.pkl');
  });

  test('a global outside the allowlist is refused by name', () => {
    expectLoadError(() => load(path.join(dir, 'counter.pt')), /refusing to load collections\.Counter/);
  });

  test('the legacy format says how to re-save', () => {
    expectLoadError(() => load(path.join(dir, 'legacy.pt')), /legacy torch\.save format.*re-save it with torch >= 1\.6/);
  });

  test('a truncated archive is a LoadError at every cut', () => {
    const bytes = fs.readFileSync(path.join(dir, 'vision.jit.pt'));
    for (let cut = 0; cut < bytes.length; cut += 97) expectLoadError(() => load(bytes.subarray(0, cut)), /./);
  });

  test('a storage entry shorter than its tensor needs is a bad storage size', () => {
    const bytes = Buffer.from(fs.readFileSync(path.join(dir, 'vision.pt')));
    // Shrink the size fields of data/0's central directory record by one byte.
    const header = centralHeaderOf(bytes, 'vision/data/0');
    bytes.writeUInt32LE(bytes.readUInt32LE(header + 20) - 1, header + 20);
    bytes.writeUInt32LE(bytes.readUInt32LE(header + 24) - 1, header + 24);
    expectLoadError(() => load(bytes), /vision\/data\.pkl.*bad storage size: storage 0 holds 3 bytes, 1 float32 elements need 4/);
  });

  test('an entry whose offset lies past the end is a LoadError', () => {
    const bytes = Buffer.from(fs.readFileSync(path.join(dir, 'vision.pt')));
    bytes.writeUInt32LE(0x7fffffff, centralHeaderOf(bytes, 'vision/data/3') + 42);
    expectLoadError(() => load(bytes), /past the end of the file/);
  });
});

// Default: a bounded fuzz run in every test run; QKERNELS_FUZZ_LOADER=N runs N mutations instead.
const FUZZ_ITERATIONS = Number(process.env.QKERNELS_FUZZ_LOADER ?? 2000);

/** One seeded mutation of an archive: raw bytes of the file, or the pickle's bytes re-packed into a valid zip. */
function mutate(rng: Rng, bytes: Buffer, entries: Array<[string, Uint8Array]>, pickleIndex: number): { bytes: Buffer; how: string } {
  const flip = (target: Uint8Array, from: number, to: number, count: number): void => {
    for (let i = 0; i < count; i++) target[rng.int(from, to - 1)] = rng.int(0, 255);
  };
  const extremes = [0, 1, 0x7f, 0x80, 0xff, 0x7fffffff, 0x80000000, 0xffffffff];
  const kind = rng.int(0, 5);
  if (kind <= 1) {
    const copy = Buffer.from(bytes);
    const count = rng.int(1, 8);
    flip(copy, 0, copy.length, count);
    return { bytes: copy, how: `flip ${count} file bytes` };
  }
  if (kind === 2) {
    const cut = rng.int(0, bytes.length - 1);
    return { bytes: bytes.subarray(0, cut), how: `truncate at ${cut}` };
  }
  // Pickle-level mutations, re-zipped so they reach the unpickler.
  const pickle = Buffer.from(entries[pickleIndex][1]);
  let mutated: Buffer;
  let how: string;
  if (kind === 3) {
    const count = rng.int(1, 4);
    flip(pickle, 0, pickle.length, count);
    mutated = pickle;
    how = `flip ${count} pickle bytes`;
  } else if (kind === 4) {
    const at = rng.int(0, pickle.length - 4);
    pickle.writeUInt32LE(rng.pick(extremes), at);
    mutated = pickle;
    how = `extreme u32 at pickle byte ${at}`;
  } else {
    const from = rng.int(0, pickle.length - 1);
    const length = rng.int(1, Math.min(64, pickle.length - from));
    const to = rng.int(0, pickle.length - 1);
    mutated = Buffer.concat([pickle.subarray(0, to), pickle.subarray(from, from + length), pickle.subarray(rng.bool() ? to : to + length)]);
    how = `splice ${length} pickle bytes from ${from} to ${to}`;
  }
  const rebuilt = entries.map(([name, data], i) => [name, i === pickleIndex ? mutated : data] as [string, Uint8Array]);
  return { bytes: makeZip(rebuilt), how };
}

describeOracle('load: fuzzed archives', () => {
  let sources: Array<{ name: string; bytes: Buffer; entries: Array<[string, Uint8Array]>; pickleIndex: number }> = [];

  beforeAll(() => {
    const { dir } = fixtures();
    sources = ['vision.pt', 'vision.jit.pt', 'tensors.pt', 'embeddings.jit.pt', 'convs.jit.pt'].map((name) => {
      const bytes = fs.readFileSync(path.join(dir, name));
      const archive = new ZipArchive(bytes, name);
      const entries = Array.from(archive.entries.keys(), (entry) => [entry, archive.read(entry)] as [string, Uint8Array]);
      return { name, bytes, entries, pickleIndex: entries.findIndex(([entry]) => entry.endsWith('/data.pkl')) };
    });
  });

  test(`${FUZZ_ITERATIONS} seeded mutations: each loads or throws a LoadError, never anything else`, () => {
    const seed = testSeed('io-load fuzz');
    const rng = new Rng(seed);
    const failures: string[] = [];
    let loaded = 0;
    for (let i = 0; i < FUZZ_ITERATIONS && failures.length < 5; i++) {
      const source = sources[i % sources.length];
      const { bytes, how } = mutate(rng, source.bytes, source.entries, source.pickleIndex);
      try {
        const sd = load(bytes);
        // Whatever loaded must be usable: walk every value as inspect does.
        inspectRows(sd);
        loaded++;
      } catch (error) {
        if (!(error instanceof LoadError)) failures.push(`seed ${seed} iteration ${i} (${source.name}, ${how}): ${error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error)}`);
      }
    }
    expect(failures).toEqual([]);
    // The mutations must not all be rejected early: some still load (bytes flipped inside tensor data).
    expect(loaded).toBeGreaterThan(0);
  });
});

// The coverage-guided run (test/fuzz/load-fuzz.js: V8 block coverage steers the mutations,
// each input a whole file, a pickle in a valid archive, or TorchScript code plus pickle), in a
// child process so that a crash or a hang is seen. QKERNELS_FUZZ_LOADER_SECONDS=N runs longer.
const GUIDED_SECONDS = Number(process.env.QKERNELS_FUZZ_LOADER_SECONDS ?? 10);

describeOracle('load: coverage-guided fuzzing', () => {
  test(`${GUIDED_SECONDS} s from torch's files: no finding, and the corpus grows`, () => {
    const { dir } = fixtures();
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'qkernels-load-fuzz-'));
    try {
      const run = spawnSync(process.execPath, [path.join(__dirname, 'fuzz', 'load-fuzz.js'), '--seeds', dir, '--seconds', String(GUIDED_SECONDS), '--seed', String(testSeed('load-fuzz')), '--corpus', out], {
        encoding: 'utf8',
        timeout: (GUIDED_SECONDS + 60) * 1000,
      });
      const summary = /load-fuzz: (\d+) executions, (\d+) seeds, (\d+) corpus, \d+ features, (\d+) findings/.exec(run.stdout);
      expect({ status: run.status, findings: run.stdout.split('\n').filter((line) => !line.startsWith('load-fuzz:')), summary: summary !== null }).toEqual({ status: 0, findings: [''], summary: true });
      const [, executions, seeds, corpus] = (summary as RegExpExecArray).map(Number);
      expect(executions).toBeGreaterThan(100);
      // Coverage feedback works: inputs reaching new blocks joined the seeds.
      expect(corpus).toBeGreaterThan(seeds);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, (GUIDED_SECONDS + 90) * 1000);
});

// The long run's mode (--runs N: seeded mutations of the seeds and a guided corpus, split over
// worker processes, no coverage feedback): QKERNELS_FUZZ_LOADER_RUNS=N runs N executions.
const FAST_RUNS = Number(process.env.QKERNELS_FUZZ_LOADER_RUNS ?? 2000);

describeOracle('load: the long-run mode (--runs)', () => {
  const fuzzer = path.join(__dirname, 'fuzz', 'load-fuzz.js');
  const summaryOf = (stdout: string) => /load-fuzz --runs: (\d+) executions, (\d+) workers, (\d+) pool, (\d+) findings/.exec(stdout)?.slice(1).map(Number);

  test(`${FAST_RUNS} executions over 2 workers: each loads or throws a LoadError`, () => {
    const { dir } = fixtures();
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'qkernels-load-fuzz-'));
    try {
      const run = spawnSync(process.execPath, [fuzzer, '--seeds', dir, '--runs', String(FAST_RUNS), '--workers', '2', '--seed', String(testSeed('load-fuzz --runs')), '--corpus', out], {
        encoding: 'utf8',
        timeout: 120000 + FAST_RUNS * 5,
      });
      expect({ status: run.status, findings: run.stdout.split('\n').filter((line) => line.startsWith('finding')) }).toEqual({ status: 0, findings: [] });
      const [executions, workers, pool, findings] = summaryOf(run.stdout) ?? [];
      expect({ executions, workers, findings }).toEqual({ executions: FAST_RUNS, workers: 2, findings: 0 });
      expect(pool).toBeGreaterThan(20);  // the torch files in each mode they fit
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, 180000 + FAST_RUNS * 5);

  test('a worker that dies is pinned to the exact input, which --replay-index reproduces, and the rest of its share still runs', () => {
    const { dir } = fixtures();
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'qkernels-load-fuzz-'));
    try {
      // --plant-crash I: the worker aborts the process at execution I (the harness's self-test).
      const run = spawnSync(process.execPath, [fuzzer, '--seeds', dir, '--runs', '3000', '--workers', '2', '--seed', '5', '--corpus', out, '--plant-crash', '2345'], { encoding: 'utf8', timeout: 120000 });
      expect(run.status).toBe(1);
      expect(run.stdout).toContain(`finding: ${path.join(out, 'finding-crash-or-hang-5-2345')} (--replay-index 2345): the process died or hung (SIGABRT)`);
      expect(summaryOf(run.stdout)?.filter((_, i) => i !== 2)).toEqual([3000, 2, 1]);
      const { indexedInput, seedInputs } = require('./fuzz/load-fuzz') as { indexedInput: (seed: number, index: number, pool: Buffer[]) => Buffer; seedInputs: (dir: string) => Buffer[] };
      expect(fs.readFileSync(path.join(out, 'finding-crash-or-hang-5-2345')).equals(indexedInput(5, 2345, seedInputs(dir)))).toBe(true);
      const replay = spawnSync(process.execPath, [fuzzer, '--seeds', dir, '--seed', '5', '--replay-index', '2345'], { encoding: 'utf8', timeout: 60000 });
      expect([replay.status, replay.stdout.trim()]).toEqual([0, 'load-fuzz: execution 2345 of seed 5 loaded or threw a LoadError']);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, 200000);
});

describe('load: arguments', () => {
  test('pathOrBytes must be a path or bytes', () => {
    expectValidationError(() => load(42 as unknown as string), 'TypeError', 'pathOrBytes');
    expectValidationError(() => load(new Float32Array(4) as unknown as Uint8Array), 'TypeError', 'pathOrBytes');
  });

  test('bytes that are not an archive say so', () => {
    expectLoadError(() => load(Buffer.from('hello world, not a zip')), /<bytes>: not a PyTorch weights file/);
  });
});
