// `npm run demo`: prints the backend, quantizes a tensor, then runs a small quantized model (conv, pooling, linear, embedding bag) on every ISA level.
'use strict';

const qk = require('..');

const { backend, tensor, quantizePerTensor, quantizePerChannel, quantizePerTensorDynamic, dequantize, nnq, nniq, qF } = qk;

function maxAbsError(a, b) {
  const x = a.contiguous().data;
  const y = b.contiguous().data;
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  return worst;
}

function section(title) {
  console.log(`\n== ${title} ${'='.repeat(Math.max(0, 70 - title.length))}`);
}

// A deterministic input: 2 x 3 x 4 values in about [-2, 2], different per channel (dim 1).
function makeInput() {
  const shape = [2, 3, 4];
  const data = new Float32Array(24);
  for (let i = 0; i < data.length; i++) {
    const channel = Math.floor(i / 4) % 3;
    data[i] = (channel + 1) * 0.6 * Math.sin(1.7 * i + 0.5);
  }
  return tensor(data, shape);
}

/** The ISA levels this machine can run, lowest first (a cap above the best means the best). */
function availableIsas(info) {
  const family = ['x64', 'ia32'].includes(process.arch) ? ['scalar', 'avx2', 'avx512vnni']
    : process.arch === 'arm64' ? ['scalar', 'neon', 'neondot'] : ['scalar'];
  return family.slice(0, family.indexOf(info.bestIsa) + 1);
}


// A deterministic pseudo-random stream in [-1, 1).
function* waves(seed) {
  let state = seed >>> 0;
  for (;;) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    yield state / 2 ** 31 - 1;
  }
}
function randomTensor(shape, seed, amplitude = 1) {
  const n = shape.reduce((a, b) => a * b, 1);
  const source = waves(seed);
  return tensor(Float32Array.from({ length: n }, () => amplitude * source.next().value), shape);
}
function perChannelWeight(shape, seed) {
  const w = randomTensor(shape, seed, 0.5);
  const scales = Array.from({ length: shape[0] }, (_, c) => (0.5 + 0.1 * (c % 5)) / 127);
  return quantizePerChannel(w, scales, scales.map(() => 0), 0, 'qint8');
}

// conv(3->16, 3x3) + ReLU, max pool 2x2, conv(16->32, 3x3, stride 2) + ReLU, global average
// pool, linear 32->10; plus an embedding bag over a 1000 x 64 8-bit table. The models a
// converted PyTorch network becomes: prepacked modules with output scales and zero points.
function buildModel() {
  const conv1 = new nniq.ConvReLU2d(3, 16, 3, { padding: 1 });
  conv1.setWeightBias(perChannelWeight([16, 3, 3, 3], 1), randomTensor([16], 2, 0.1));
  conv1.scale = 0.04; conv1.zeroPoint = 0;
  const conv2 = new nniq.ConvReLU2d(16, 32, 3, { stride: 2, padding: 1 });
  conv2.setWeightBias(perChannelWeight([32, 16, 3, 3], 3), randomTensor([32], 4, 0.1));
  conv2.scale = 0.05; conv2.zeroPoint = 0;
  const fc = new nnq.Linear(32, 10);
  fc.setWeightBias(perChannelWeight([10, 32], 5), randomTensor([10], 6, 0.1));
  fc.scale = 0.05; fc.zeroPoint = 128;
  const table = nnq.EmbeddingBag.fromFloat({ weight: randomTensor([1000, 64], 7) }, { dtype: 'quint8' });
  return {
    layers: [String(conv1), 'max_pool2d(2)', String(conv2), 'adaptive_avg_pool2d(1)', String(fc), String(table)],
    forward(x) {
      let h = conv1.forward(x);
      h = qF.maxPool2d(h, 2);
      h = conv2.forward(h);
      h = qF.adaptiveAvgPool2d(h, 1).reshape([x.shape[0], 32]);
      const logits = fc.forward(h);
      const bags = table.forward(Int32Array.from({ length: 40 }, (_, i) => (i * 37) % 1000), Int32Array.of(0, 10, 25));
      return { logits, bags };
    },
  };
}

function argmaxRows(t) {
  const [rows, cols] = t.shape;
  const data = t.contiguous().data;
  return Array.from({ length: rows }, (_, r) => {
    let best = 0;
    for (let c = 1; c < cols; c++) if (data[r * cols + c] > data[r * cols + best]) best = c;
    return best;
  });
}

async function runModel(info) {
  section('a small quantized model');
  const model = buildModel();
  for (const layer of model.layers) console.log(`  ${layer}`);
  const images = quantizePerTensor(randomTensor([2, 3, 32, 32], 11, 2), 0.02, 128, 'quint8').contiguous('channels_last');
  const reference = model.forward(images);
  console.log(`logits (quint8, scale ${reference.logits.qScale()}):`);
  console.log(String(reference.logits.dequantize()));
  console.log(`predicted classes: ${argmaxRows(reference.logits.dequantize()).join(', ')}`);
  console.log(`embedding bags (sum of 10, 15 and 15 rows): shape [${reference.bags.shape}]`);
  const expected = reference.logits.intRepr();
  for (const level of availableIsas(info)) {
    for (const threads of [1, 2]) {
      backend.setMaxIsa(level);
      backend.setNumThreads(threads);
      const out = model.forward(images);
      const started = process.hrtime.bigint();
      const runs = 20;
      for (let i = 0; i < runs; i++) model.forward(images);
      const micros = Number(process.hrtime.bigint() - started) / 1e3 / runs;
      const same = out.logits.intRepr().every((v, i) => v === expected[i]) &&
        out.bags.data.every((v, i) => Object.is(v, reference.bags.data[i]));
      console.log(`  ${level.padEnd(10)} ${threads} thread${threads > 1 ? 's' : ' '}: ${micros.toFixed(0).padStart(6)} us per forward, bit-identical: ${same}`);
    }
  }
  backend.setMaxIsa(info.isa);
  backend.setNumThreads(1);
}

async function main() {
  section('backend');
  const info = backend.info();
  console.log(info);

  const x = makeInput();
  section('float input');
  console.log(String(x));

  section('quantizePerTensor(x, 0.02, 128, "quint8")');
  const q = quantizePerTensor(x, 0.02, 128, 'quint8');
  console.log(String(q));
  console.log('intRepr:', Array.from(q.intRepr()).join(' '));
  const y = dequantize(q);
  console.log(`dequantize: max |x - y| = ${maxAbsError(x, y).toExponential(3)} (at most scale / 2 = 0.01 inside the range)`);

  section('quantizePerChannel(x, scales, zeroPoints, 1, "qint8")');
  const scales = [0.005, 0.01, 0.015];
  const qc = quantizePerChannel(x, scales, [0, 0, 0], 1, 'qint8');
  console.log(String(qc));
  console.log(`dequantize: max |x - y| = ${maxAbsError(x, qc.dequantize()).toExponential(3)}`);

  section('quantizePerTensorDynamic(x, "quint8", false)');
  const qd = quantizePerTensorDynamic(x, 'quint8', false);
  console.log(`chosen scale ${qd.qScale()}, zero point ${qd.qZeroPoint()}; max |x - y| = ${maxAbsError(x, qd.dequantize()).toExponential(3)}`);

  section('nnq.Quantize / nnq.DeQuantize, forwardAsync (libuv thread pool)');
  const quant = new nnq.Quantize(0.02, 128, 'quint8');
  const dequant = new nnq.DeQuantize();
  console.log(`${quant}  ->  ${dequant}`);
  const qa = await quant.forwardAsync(x);
  const ya = await dequant.forwardAsync(qa);
  const sameBits = Array.from(qa.intRepr()).every((v, i) => v === q.intRepr()[i]);
  console.log(`async output matches sync: ${sameBits}; max |x - y| = ${maxAbsError(x, ya).toExponential(3)}`);

  section('ISA levels');
  const levels = availableIsas(info);
  console.log(`available on this machine: ${levels.join(', ')} (in force: ${backend.getIsa()})`);
  const reference = q.intRepr();
  const big = tensor(Float32Array.from({ length: 4099 }, (_, i) => Math.cos(i) * 3), [4099]);
  const referenceBig = quantizePerTensor(big, 0.02, 128, 'quint8').intRepr();
  for (const level of levels) {
    const inForce = backend.setMaxIsa(level);
    const small = quantizePerTensor(x, 0.02, 128, 'quint8').intRepr();
    const large = quantizePerTensor(big, 0.02, 128, 'quint8').intRepr();
    const identical = small.every((v, i) => v === reference[i]) && large.every((v, i) => v === referenceBig[i]);
    console.log(`  setMaxIsa('${level}') -> ${inForce}: bit-identical to the default path: ${identical}`);
  }
  backend.setMaxIsa(info.isa);

  await runModel(info);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
