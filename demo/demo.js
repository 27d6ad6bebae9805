// `npm run demo`: prints the backend and runs a small quantized pipeline end to end (sync, async, every ISA level).
'use strict';

const qk = require('..');

const { backend, tensor, quantizePerTensor, quantizePerChannel, quantizePerTensorDynamic, dequantize, nnq } = qk;

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
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
