// The qkernels side of the linear/conv benchmark, through the public API only; anything not built yet becomes an explanation, never a crash.
'use strict';

const { ROOT_DIR, timeSync } = require('./common');
const { weightShape, inputShape, rngBytes } = require('./shapes');

/** { q } (the package, as users get it) or { error }. */
function loadQkernels() {
  try {
    return { q: require(ROOT_DIR) };
  } catch (e) {
    return { error: `qkernels cannot load (not built? npm run build:gyp / npx tsc -p .): ${e.message.split('\n')[0]}` };
  }
}

/** The ISA levels this CPU runs, lowest first (scalar, then avx2 / avx512vnni or neon / neondot). */
function isaLevels(q) {
  const order = process.arch === 'arm64' ? ['scalar', 'neon', 'neondot'] : ['scalar', 'avx2', 'avx512vnni'];
  const best = q.backend.info().bestIsa;
  const top = order.indexOf(best);
  return top < 0 ? ['scalar'] : order.slice(0, top + 1);
}

class NotBuilt extends Error {}

function moduleClass(q, name) {
  const cls = q.nnq && q.nnq[name];
  if (typeof cls !== 'function') throw new NotBuilt(`nnq.${name} is not built yet`);
  return cls;
}

/** A prepacked module for the shape (PyTorch-style weights from makeData). */
function createModule(q, s, data) {
  let module;
  if (s.kind === 'linear') {
    module = new (moduleClass(q, 'Linear'))(s.k, s.n, { bias: true });
  } else {
    const name = `${s.transposed ? 'ConvTranspose' : 'Conv'}${s.dims}d`;
    const options = { stride: s.stride, padding: s.padding, groups: s.groups, bias: true };
    if (s.transposed) options.outputPadding = s.outputPadding;
    module = new (moduleClass(q, name))(s.cin, s.cout, s.kernel, options);
  }
  const w = q.makePerTensorQuantizedTensor(data.w, weightShape(s), data.wScale, 0, 'qint8');
  module.setWeightBias(w, q.tensor(data.bias, [data.bias.length]));
  module.scale = data.yScale;
  module.zeroPoint = data.yZeroPoint;
  return module;
}

/**
 * The quint8 input in a layout: 'contiguous' (N C [D] [H] W), or 'channels_last' (N [D] [H] W C:
 * channels_last / channels_last_3d for 4-D / 5-D, and for 1-D conv an N L C buffer viewed as N C L).
 */
function createInput(q, s, data, layout) {
  const shape = inputShape(s);
  const values = rngBytes(shape.reduce((a, b) => a * b, 1), 7);
  if (layout === 'contiguous' || s.kind === 'linear') {
    return q.makePerTensorQuantizedTensor(values, shape, data.xScale, data.xZeroPoint, 'quint8');
  }
  if (s.dims === 1) {
    const [n, c, l] = shape;
    return q.makePerTensorQuantizedTensor(values, [n, l, c], data.xScale, data.xZeroPoint, 'quint8').permute([0, 2, 1]);
  }
  const x = q.makePerTensorQuantizedTensor(values, shape, data.xScale, data.xZeroPoint, 'quint8');
  return x.contiguous(s.dims === 2 ? 'channels_last' : 'channels_last_3d');
}

/**
 * Module and input for a shape, in qkernels' fast layout: for conv, each layout that works
 * (channels-last, contiguous) is timed for probeTime seconds and the faster one kept (with
 * probeTime 0: the first that works). Returns { module, x, layout, failures } or { error, notBuilt }.
 */
function prepare(q, s, data, probeTime = 0, clock = 'wall') {
  if (!q) return { error: 'qkernels is not built', notBuilt: true };
  let module;
  try {
    module = createModule(q, s, data);
  } catch (e) {
    return { error: e instanceof NotBuilt ? e.message : `qkernels ${s.label}: ${e.message.split('\n')[0]}`, notBuilt: e instanceof NotBuilt };
  }
  const layouts = s.kind === 'linear' || s.layout === 'contiguous' ? ['contiguous'] : ['channels_last', 'contiguous'];
  const failures = [];
  const inputs = [];
  for (const layout of layouts) {
    try {
      const x = createInput(q, s, data, layout);
      module.forward(x);
      inputs.push({ layout, x, seconds: Infinity });
      if (probeTime === 0) break;
    } catch (e) {
      failures.push(`${layout}: ${e.message.split('\n')[0]}`);
    }
  }
  // Two alternating rounds, the faster of each layout's two kept: the first probe of a process
  // also pays the growth of the malloc heap that later outputs reuse (README, "Memory
  // allocator"), which would otherwise count against whichever layout is probed first.
  for (let round = 0; probeTime > 0 && round < 2; round++) {
    for (const input of inputs) input.seconds = Math.min(input.seconds, timeSync(() => module.forward(input.x), probeTime, { clock }));
  }
  let best = null;
  for (const input of inputs) if (!best || input.seconds < best.seconds) best = { module, x: input.x, layout: input.layout, seconds: input.seconds, failures };
  return best || { error: `qkernels ${s.label} forward failed (${failures.join('; ')})` };
}

/** Caps the ISA and sets the thread count; throws when the level cannot be selected. */
function select(q, isa, threads) {
  const level = q.backend.setMaxIsa(isa);
  if (level !== isa) throw new Error(`setMaxIsa('${isa}') gave ${level}`);
  q.backend.setNumThreads(threads);
}

module.exports = { loadQkernels, isaLevels, prepare, select };
