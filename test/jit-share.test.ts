// TracedModule.share / jit.adopt: one traced plan run by several worker_threads and the main thread at once, with the eager forward's bits; the token's lifetime and its errors.
import * as path from 'path';
import { Worker } from 'worker_threads';
import { QTensor, Tensor, jit, nn, nnq, quantizePerChannel, quantizePerTensor, tensor } from '..';
import { Rng, testSeed } from './helpers/random';

const rng = new Rng(testSeed('jit-share'));
const DIST = path.join(__dirname, '..', 'dist');

function floats(n: number, lo = -1, hi = 1): Float32Array {
  return Float32Array.from({ length: n }, () => rng.range(lo, hi));
}

function conv(cin: number, cout: number): InstanceType<typeof nnq.Conv2d> {
  const m = new nnq.Conv2d(cin, cout, 3, { padding: 1 });
  const w = quantizePerChannel(tensor(floats(cout * cin * 9), [cout, cin, 3, 3]), Array.from({ length: cout }, () => rng.range(0.004, 0.02)), new Array<number>(cout).fill(0), 0, 'qint8');
  m.setWeightBias(w, tensor(floats(cout), [cout]));
  m.scale = 0.05;
  m.zeroPoint = 90;
  return m;
}

/**
 * Two inputs (a QTensor and a float Tensor) and a nested output (a record holding a QTensor, a
 * float Tensor and a list with a per-channel QTensor): every kind of metadata share() describes.
 */
class TwoHeads extends nn.Module {
  readonly body = conv(4, 8);
  readonly skip = conv(4, 8);
  readonly add = new nnq.QFunctional();
  constructor() {
    super();
    this.add.scale = 0.07;
    this.add.zeroPoint = 100;
  }
  override forward(x: QTensor, bias: Tensor): { sum: QTensor; floats: Tensor; perChannel: QTensor[] } {
    const sum = this.add.addRelu(this.body.forward(x), this.skip.forward(x));
    const b = quantizePerTensor(bias, 0.05, 90, 'quint8');
    const channels = quantizePerChannel(sum.dequantize(), new Array<number>(8).fill(0.03), new Array<number>(8).fill(5), 1, 'quint8');
    return { sum, floats: this.body.forward(b).dequantize(), perChannel: [channels] };
  }
}

/** The error fn throws (the addon's errors come from another realm than jest's, so no toThrow(Class)). */
function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

const SHAPE = [1, 4, 10, 10];
const qin = (values: Float32Array) => quantizePerTensor(tensor(values, SHAPE), 0.02, 110, 'quint8');
const inputValues = () => [floats(400, -2, 2), floats(400, -2, 2)];

/** The output's bytes, in a fixed order (what threads compare). */
function outputBytes(y: { sum: QTensor; floats: Tensor; perChannel: QTensor[] }): string[] {
  return [y.sum, y.floats, y.perChannel[0]].map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64'));
}

/** A worker that adopts `shared`, runs every input set `rounds` times (sync and 3 forwardAsync in flight) and posts the outputs. */
function workerProgram(): string {
  return `
    const { parentPort, workerData } = require('worker_threads');
    const q = require(workerData.dist);
    const m = q.jit.adopt(workerData.shared);
    const shape = [1, 4, 10, 10];
    const bytes = (y) => [y.sum, y.floats, y.perChannel[0]].map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64'));
    (async () => {
      const out = [];
      for (let r = 0; r < workerData.rounds; r++) {
        for (const [a, b] of workerData.inputs) {
          const x = q.quantizePerTensor(q.tensor(Float32Array.from(a), shape), 0.02, 110, 'quint8');
          const f = q.tensor(Float32Array.from(b), shape);
          const pending = [m.forwardAsync(x, f), m.forwardAsync(x, f), m.forwardAsync(x, f)];
          out.push(bytes(m.forward(x, f)));
          for (const y of await Promise.all(pending)) out.push(bytes(y));
        }
      }
      parentPort.postMessage({ out, text: String(m), graph: m.graph, arenaBytes: m.arenaBytes });
    })().catch((e) => parentPort.postMessage({ error: e.constructor.name + ': ' + e.message }));
  `;
}

function runWorker(workerData: object): Promise<{ out?: string[][]; error?: string; text?: string; graph?: string; arenaBytes?: number }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerProgram(), { eval: true, workerData: { dist: DIST, ...workerData } });
    worker.once('message', (m) => {
      resolve(m);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

describe('TracedModule.share / jit.adopt', () => {
  test('two workers and the main thread run one plan at once, with the eager bits', async () => {
    const model = new TwoHeads();
    const [a0, b0] = inputValues();
    const traced = jit.trace(model, [qin(a0), tensor(b0, SHAPE)]);
    const sets = [inputValues(), inputValues(), inputValues()];
    const want = sets.map(([a, b]) => outputBytes(model.forward(qin(a), tensor(b, SHAPE))));
    const shared = traced.share();
    expect(shared).toEqual({ kind: 'qkernels.TracedModule', token: expect.any(Number) });
    expect(traced.share().token).toBe(shared.token); // one token per TracedModule

    const rounds = 4;
    const inputs = sets.map(([a, b]) => [Array.from(a), Array.from(b)]);
    const workers = [runWorker({ shared, inputs, rounds }), runWorker({ shared, inputs, rounds })];
    // The main thread runs the same plan while the workers do.
    const local: string[][] = [];
    for (let r = 0; r < rounds; r++) {
      for (const [a, b] of sets) {
        const pending = traced.forwardAsync(qin(a), tensor(b, SHAPE));
        local.push(outputBytes(traced.forward(qin(a), tensor(b, SHAPE))));
        local.push(outputBytes(await pending));
      }
    }
    for (let i = 0; i < local.length; i++) expect(local[i]).toEqual(want[(i >> 1) % sets.length]);
    for (const result of await Promise.all(workers)) {
      expect(result.error).toBeUndefined();
      expect(result.out).toHaveLength(rounds * sets.length * 4);
      result.out!.forEach((bytes, i) => expect(bytes).toEqual(want[Math.floor(i / 4) % sets.length]));
      // The adopted module describes the same plan.
      expect(result.text).toBe(String(traced));
      expect(result.graph).toBe(traced.graph);
      expect(result.arenaBytes).toBe(traced.arenaBytes);
    }
    traced.dispose();
  }, 120000);

  test('adopted in the same thread; checks inputs like the original; outlives the original', () => {
    const model = new TwoHeads();
    const [a, b] = inputValues();
    const traced = jit.trace(model, [qin(a), tensor(b, SHAPE)]);
    const adopted = jit.adopt(traced.share());
    expect(adopted).toBeInstanceOf(jit.TracedModule);
    expect(outputBytes(adopted.forward(qin(a), tensor(b, SHAPE)))).toEqual(outputBytes(model.forward(qin(a), tensor(b, SHAPE))));
    // Input checks come from the shared description: the traced qparams and shape.
    expect(() => adopted.forward(quantizePerTensor(tensor(a, SHAPE), 0.03, 110, 'quint8'), tensor(b, SHAPE))).toThrow(
      /Expected QTensor with the traced example's qscheme and qparams/,
    );
    expect(() => adopted.forward(qin(a))).toThrow(/Expected 2 input\(s\)/);
    // Disposing the sharer ends the token, not the modules already adopted.
    const shared = traced.share();
    traced.dispose();
    expect(errorOf(() => jit.adopt(shared))).toMatchObject({ name: 'RangeError', message: expect.stringMatching(/still alive .* for token but received \d+/) });
    expect(outputBytes(adopted.forward(qin(a), tensor(b, SHAPE)))).toEqual(outputBytes(model.forward(qin(a), tensor(b, SHAPE))));
    adopted.dispose();
    expect(() => adopted.forward(qin(a), tensor(b, SHAPE))).toThrow(TypeError);
    expect(() => traced.share()).toThrow(TypeError);
  });

  test('a plan shared by a worker that has exited cannot be adopted; one adopted before keeps running', async () => {
    const program = `
      const { parentPort, workerData } = require('worker_threads');
      const q = require(workerData.dist);
      const m = new q.nnq.Conv2d(2, 3, 1);
      m.setWeightBias(q.quantizePerTensor(q.tensor(Float32Array.from({ length: 6 }, (_, i) => i / 10 - 0.2), [3, 2, 1, 1]), 0.01, 0, 'qint8'), null);
      m.scale = 0.1; m.zeroPoint = 10;
      const x = q.quantizePerTensor(q.tensor(new Float32Array(8).fill(0.5), [1, 2, 2, 2]), 0.05, 0, 'quint8');
      const traced = q.jit.trace(m, x);
      parentPort.postMessage({ shared: traced.share(), want: Array.from(m.forward(x).intRepr()) });
      parentPort.once('message', () => process.exit(0));
    `;
    const worker = new Worker(program, { eval: true, workerData: { dist: DIST } });
    const { shared, want } = await new Promise<{ shared: unknown; want: number[] }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    const adopted = jit.adopt(shared);
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.postMessage('exit');
    await exited;
    expect(() => jit.adopt(shared)).toThrow(/still alive/);
    const x = quantizePerTensor(tensor(new Float32Array(8).fill(0.5), [1, 2, 2, 2]), 0.05, 0, 'quint8');
    expect(Array.from((adopted.forward(x) as QTensor).intRepr())).toEqual(want);
    expect(Array.from(((await adopted.forwardAsync(x)) as QTensor).intRepr())).toEqual(want);
    adopted.dispose();
  }, 60000);

  test('what adopt refuses, naming the parameter', () => {
    expect(() => jit.adopt(null)).toThrow(TypeError);
    expect(() => jit.adopt(null)).toThrow(/Expected the object TracedModule.share\(\) returned .* for shared but received null/);
    expect(() => jit.adopt({ token: 1 })).toThrow(/for shared/);
    expect(() => jit.adopt({ kind: 'qkernels.TracedModule', token: 1.5 })).toThrow(TypeError);
    expect(() => jit.adopt({ kind: 'qkernels.TracedModule', token: 0 })).toThrow(/positive integer token .* for shared.token but received 0/);
    expect(() => jit.adopt({ kind: 'qkernels.TracedModule', token: '1' })).toThrow(/positive integer token .* for shared.token but received '1'/);
    // A well-formed token of no plan (tokens are never reused).
    expect(errorOf(() => jit.adopt({ kind: 'qkernels.TracedModule', token: 2 ** 52 }))).toMatchObject({ name: 'RangeError', message: expect.stringMatching(/still alive/) });
  });
});
