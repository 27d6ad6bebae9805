// The linear/conv benchmark shapes (issue 3) and the int8 weights and float bias that every engine of the benchmark reads.
'use strict';

const fs = require('fs');
const path = require('path');

function linear(m, k, n) {
  return { id: `linear_${m}x${k}x${n}`, label: `linear ${m}x${k}x${n}`, kind: 'linear', m, k, n };
}

/**
 * A convolution; sizes per spatial dim; `padding` per dim, applied on both sides. `layout`
 * 'contiguous' gives every engine an N C [D] [H] W input; without it each engine gets its fast
 * layout (channels-last for torch, the faster of the two for qkernels: bench/lib/qk.js).
 */
function conv(label, id, { dims, batch = 1, cin, cout, kernel, spatial, stride, padding, groups = 1, transposed = false, outputPadding, layout }) {
  const fill = (v, d) => (Array.isArray(v) ? v : Array(dims).fill(v ?? d));
  return {
    id, label, kind: 'conv', dims, batch, cin, cout, groups, transposed,
    kernel: fill(kernel), spatial: fill(spatial), stride: fill(stride, 1), padding: fill(padding, 0),
    outputPadding: fill(outputPadding, 0), ...(layout ? { layout } : {}),
  };
}

/** A depthwise convolution of `ch` channels (groups = channels), padded to keep the size at stride 1. */
function depthwise(dims, ch, kernel, spatial, stride, layout) {
  const size = dims === 1 ? `L${spatial}` : `${spatial}x${spatial}`;
  const k = dims === 1 ? `k${kernel}` : `${kernel}x${kernel}`;
  const tail = `${stride > 1 ? ` s${stride}` : ''}${layout ? ` ${layout === 'contiguous' ? (dims === 1 ? 'NCL' : 'NCHW') : ''}` : ''}`;
  const id = `dwconv${dims}d_${ch}_${dims === 1 ? `k${kernel}_l${spatial}` : `${kernel}x${kernel}_${spatial}`}${stride > 1 ? `_s${stride}` : ''}${layout ? `_${layout}` : ''}`;
  return conv(`depthwise conv${dims}d ${ch}ch ${k} ${size}${tail}`, id,
    { dims, cin: ch, cout: ch, groups: ch, kernel, spatial, stride, padding: (kernel - 1) >> 1, layout });
}

// Throughput shapes, in the issue's order. (m x k x n for linear: rows x in_features x out_features.)
const THROUGHPUT_SHAPES = [
  linear(256, 1024, 1024),
  linear(1, 1024, 1024),
  linear(64, 768, 768),
  linear(128, 3072, 768),
  conv('conv1d N8 256->256 k3 L1000', 'conv1d_n8_256x256_k3_l1000', { dims: 1, batch: 8, cin: 256, cout: 256, kernel: 3, spatial: 1000, padding: 1 }),
  conv('conv1d N1 64->64 k9 L16000', 'conv1d_n1_64x64_k9_l16000', { dims: 1, cin: 64, cout: 64, kernel: 9, spatial: 16000, padding: 4 }),
  conv('depthwise conv1d 256ch k5 L4000', 'dwconv1d_256_k5_l4000', { dims: 1, cin: 256, cout: 256, groups: 256, kernel: 5, spatial: 4000, padding: 2 }),
  conv('conv2d 64->64 3x3 56x56', 'conv2d_64x64_3x3_56', { dims: 2, cin: 64, cout: 64, kernel: 3, spatial: 56, padding: 1 }),
  conv('conv2d 1x1 256->64 56x56', 'conv2d_256x64_1x1_56', { dims: 2, cin: 256, cout: 64, kernel: 1, spatial: 56, padding: 0 }),
  conv('depthwise conv2d 32ch 3x3 112x112', 'dwconv2d_32_3x3_112', { dims: 2, cin: 32, cout: 32, groups: 32, kernel: 3, spatial: 112, padding: 1 }),
  conv('conv3d 16->32 3x3x3 16x32x32', 'conv3d_16x32_3x3x3_16x32x32', { dims: 3, cin: 16, cout: 32, kernel: 3, spatial: [16, 32, 32], padding: 1 }),
  conv('convTranspose1d 256->128 k4 s2 L500', 'convtranspose1d_256x128_k4_s2_l500', { dims: 1, cin: 256, cout: 128, kernel: 4, spatial: 500, stride: 2, padding: 1, transposed: true }),
  // Stem convolutions with 1-4 input channels (issue 12): resnet's 7x7 s2 and mobilenet's 3x3 s2
  // on a 96x96 RGB image, and the 80-tap stride-16 first layer of an audio net (M5) on 8000 samples.
  conv('stem conv2d 3->64 7x7 s2 96x96', 'stem_conv2d_3x64_7x7_s2_96', { dims: 2, cin: 3, cout: 64, kernel: 7, spatial: 96, stride: 2, padding: 3 }),
  conv('stem conv2d 3->16 3x3 s2 96x96', 'stem_conv2d_3x16_3x3_s2_96', { dims: 2, cin: 3, cout: 16, kernel: 3, spatial: 96, stride: 2, padding: 1 }),
  conv('stem conv1d 1->32 k80 s16 L8000', 'stem_conv1d_1x32_k80_s16_l8000', { dims: 1, cin: 1, cout: 32, kernel: 80, spatial: 8000, stride: 16, padding: 0 }),
  // Depthwise (issue 12: 1-D and 2-D, 3x3 and 5x5, stride 1 and 2, both layouts), beside the two
  // above (channels-last, stride 1): mobilenet's 3x3 s2, the 5x5 of mobilenet v3 / efficientnet
  // blocks at s1 and s2, and the contiguous (NCHW / NCL) layout of a 3x3, a 5x5 s2 and a 1-D one.
  depthwise(2, 32, 3, 112, 2),
  depthwise(2, 72, 5, 56, 1),
  depthwise(2, 72, 5, 56, 2),
  depthwise(1, 256, 3, 4000, 2),
  depthwise(2, 32, 3, 112, 1, 'contiguous'),
  depthwise(2, 72, 5, 56, 2, 'contiguous'),
  depthwise(1, 256, 5, 4000, 1, 'contiguous'),
];

// The JS call latency shape: a small prepacked linear, per forward call.
const LATENCY_SHAPE = { ...linear(1, 64, 64), label: 'linear 1x64x64 (latency)' };

function outSpatial(s) {
  return s.spatial.map((size, d) =>
    s.transposed
      ? (size - 1) * s.stride[d] - 2 * s.padding[d] + s.kernel[d] + s.outputPadding[d]
      : Math.floor((size + 2 * s.padding[d] - s.kernel[d]) / s.stride[d]) + 1);
}

const prod = (a) => a.reduce((x, y) => x * y, 1);

/** Reduction length K of one output element (linear: in_features; conv: in_channels/groups * kernel volume). */
function reductionLength(s) {
  return s.kind === 'linear' ? s.k : (s.cin / s.groups) * prod(s.kernel);
}

/**
 * Useful int8 operations per call (a multiply and an add count 2): 2*M*N*K for linear,
 * 2 * outputs * K for conv, and for transposed conv 2 * inputs * (out_channels/groups) * kernel volume
 * (every input element meets every tap once; the few taps that land in the cropped padding count too).
 */
function opsPerCall(s) {
  if (s.kind === 'linear') return 2 * s.m * s.n * s.k;
  if (s.transposed) return 2 * s.batch * s.cin * prod(s.spatial) * (s.cout / s.groups) * prod(s.kernel);
  return 2 * s.batch * s.cout * prod(outSpatial(s)) * reductionLength(s);
}

function weightShape(s) {
  if (s.kind === 'linear') return [s.n, s.k];
  return s.transposed ? [s.cin, s.cout / s.groups, ...s.kernel] : [s.cout, s.cin / s.groups, ...s.kernel];
}

function inputShape(s) {
  return s.kind === 'linear' ? [s.m, s.k] : [s.batch, s.cin, ...s.spatial];
}

// mulberry32: a small seeded generator, so every run (and every engine) sees the same weights.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n seeded random bytes over the full range 0..255: activations that make qkernels run its exact AVX2 GEMM kernel (7-bit ones would allow the vpmaddubsw kernel, doc/gemm.md). */
function rngBytes(n, seed) {
  const next = rng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (next() * 256) | 0;
  return out;
}

function gaussian(next) {
  const u = Math.max(next(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
}

/**
 * Realistic weights: float N(0, 1/K) quantized per tensor, symmetric (zero point 0, scale =
 * max|w| / 127), the way a per-tensor MinMax observer would. Activations: quint8, zero point 128.
 */
function makeData(s, seed = 1) {
  const next = rng(seed);
  const n = prod(weightShape(s));
  const wf = new Float64Array(n);
  let maxAbs = 0;
  for (let i = 0; i < n; i++) {
    wf[i] = gaussian(next);
    maxAbs = Math.max(maxAbs, Math.abs(wf[i]));
  }
  const unit = maxAbs / 127;
  const w = new Int8Array(n);
  for (let i = 0; i < n; i++) w[i] = Math.max(-127, Math.min(127, Math.round(wf[i] / unit)));
  const outChannels = s.kind === 'linear' ? s.n : s.cout;
  const bias = new Float32Array(outChannels);
  for (let i = 0; i < outChannels; i++) bias[i] = 0.1 * gaussian(next);
  const k = reductionLength(s);
  return {
    w, bias,
    xScale: 0.02, xZeroPoint: 128,
    wScale: Math.fround(unit / Math.sqrt(k)),
    yScale: 0.05, yZeroPoint: 128,
  };
}

/**
 * Writes each shape's weights (<id>.w.bin, int8, PyTorch layout) and bias (<id>.b.bin, float32)
 * under dir and returns the shapes as the JSON dicts the Python peers read (+ data for JS).
 */
function prepareShapes(shapes, dir) {
  fs.mkdirSync(dir, { recursive: true });
  return shapes.map((s) => {
    const data = makeData(s);
    const weightFile = path.join(dir, `${s.id}.w.bin`);
    const biasFile = path.join(dir, `${s.id}.b.bin`);
    fs.writeFileSync(weightFile, data.w);
    fs.writeFileSync(biasFile, Buffer.from(data.bias.buffer));
    const { w, bias, ...qparams } = data;
    const json = { ...s, ...qparams, weightFile, biasFile };
    if (s.kind === 'conv') json.outSpatial = outSpatial(s);
    return { shape: s, json, data, ops: opsPerCall(s) };
  });
}

/** Bytes a depthwise (or any) conv must move per call at the least: its quint8 input and output and int8 weights, each once. */
function bytesPerCall(s) {
  const outputs = s.batch * s.cout * prod(outSpatial(s));
  return prod(inputShape(s)) + outputs + prod(weightShape(s));
}

const isDepthwise = (s) => s.kind === 'conv' && s.groups > 1 && s.groups === s.cin;

module.exports = { THROUGHPUT_SHAPES, LATENCY_SHAPE, outSpatial, opsPerCall, bytesPerCall, isDepthwise, weightShape, inputShape, prepareShapes, rngBytes };
