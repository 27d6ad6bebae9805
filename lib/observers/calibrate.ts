// Calibration of the output qparams a state dict does not hold (nnq.Hardswish, ELU, Sigmoid, Softmax), with observers, as torch's prepare/convert would.
//
// torch keeps these four modules' output scale and zero point as plain attributes, so
// `state_dict()` drops them (a TorchScript archive keeps them). torchvision itself recomputes
// them for its published mobilenet_v3 weights by calibrating. qkernels marks such a module's
// qparams as missing (NaN) until they are set, by a TorchScript archive, by hand, or here.
//
// calibrate(model, batch) runs one forward over a calibration batch. When the forward reaches
// a module to calibrate, an observer (MinMaxObserver by default) sees the float op applied to
// the dequantized input of the whole batch, the module takes the observer's qparams, and only
// then computes its quantized output, so every later module is observed downstream of final
// qparams. The same procedure in PyTorch (a forward pre-hook that observes and sets
// module.scale/zero_point) gives the same qparams: scripts/zoo/make_zoo.py does exactly that.

import { guardRead } from '../jit/hook';
import { Hardswish, ELU, Sigmoid, Softmax } from '../elementwise/modules';
import type { Module } from '../nn/module';
import { QTensor } from '../qtensor';
import { Tensor } from '../tensor';
import * as validate from '../validate';
import { MinMaxObserver, QParams } from './observer';

type Calibratable = Hardswish | ELU | Sigmoid | Softmax;

/** Module classes whose output qparams a state dict does not save. */
export const UNSAVED_QPARAMS_MODULES = Object.freeze(['QuantizedHardswish', 'QuantizedELU', 'QuantizedSigmoid', 'QuantizedSoftmax']);

function isCalibratable(module: unknown): module is Calibratable {
  return module instanceof Hardswish || module instanceof ELU || module instanceof Sigmoid || module instanceof Softmax;
}

// Sigmoid names its qparams outputScale/outputZeroPoint (torch: output_scale, output_zero_point).
function getQParams(module: Calibratable): QParams {
  return module instanceof Sigmoid ? { scale: module.outputScale, zeroPoint: module.outputZeroPoint } : { scale: module.scale, zeroPoint: module.zeroPoint };
}

function setQParams(module: Calibratable, qparams: QParams): void {
  if (module instanceof Sigmoid) {
    module.outputScale = qparams.scale;
    module.outputZeroPoint = qparams.zeroPoint;
  } else {
    module.scale = qparams.scale;
    module.zeroPoint = qparams.zeroPoint;
  }
}

/** Marks a module's output qparams as unknown (what a state dict leaves them); forward refuses to run until they are set. */
export function markUncalibrated(module: Calibratable): void {
  setQParams(module, { scale: NaN, zeroPoint: 0 });
}

/** The modules (with their dotted names) whose output qparams are unknown, in forward order. */
export function uncalibratedModules(model: Module): Array<[string, Module]> {
  const found: Array<[string, Module]> = [];
  for (const [name, module] of model.namedModules()) {
    if (isCalibratable(module) && Number.isNaN(getQParams(module).scale)) found.push([name, module]);
  }
  return found;
}

/** Throws an Error naming every module whose output qparams are unknown, and how to get them. */
export function requireOutputQParams(model: Module): void {
  const missing = uncalibratedModules(model);
  if (missing.length === 0) return;
  const names = missing.map(([name, module]) => `${name} (${module.getName()})`);
  const shown = names.length > 4 ? [...names.slice(0, 4), `and ${names.length - 4} more`] : names;
  throw new Error(
    `${model.getName()}: output qparams missing for ${shown.join(', ')}: a state dict does not save the scale and zero point of ` +
      'nnq.Hardswish, ELU, Sigmoid and Softmax. Load a TorchScript archive (torch.jit.save) instead, ' +
      'or call calibrate(model, batch) after loadStateDict, or set module.scale and module.zeroPoint.',
  );
}

// The float op each module quantizes, in float32 as torch computes it. Hardswish is exact
// (x * min(max(x + 3, 0), 6) / 6, one float32 op at a time); ELU, Sigmoid and Softmax use
// double exp rounded to float32, which can differ from torch's vectorized exp by an ulp.
function floatOp(module: Calibratable, x: Tensor): Float32Array {
  guardRead('calibration (it reads the values to choose qparams)', x.data);
  const v = x.contiguous().data.subarray(0, x.numel());
  const out = new Float32Array(v.length);
  const f = Math.fround;
  if (module instanceof Hardswish) {
    for (let i = 0; i < v.length; i++) out[i] = f(f(v[i] * Math.min(Math.max(f(v[i] + 3), 0), 6)) / 6);
  } else if (module instanceof ELU) {
    const alpha = f(module.alpha);
    for (let i = 0; i < v.length; i++) out[i] = v[i] > 0 ? v[i] : f(f(f(Math.exp(v[i])) - 1) * alpha);
  } else if (module instanceof Sigmoid) {
    for (let i = 0; i < v.length; i++) out[i] = f(1 / (1 + f(Math.exp(-v[i]))));
  } else {
    const rank = x.shape.length;
    const dim = module.dim === undefined ? (rank === 0 || rank === 1 || rank === 3 ? 0 : 1) : module.dim < 0 ? module.dim + rank : module.dim;
    const size = x.shape[dim];
    const inner = x.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
    const outer = v.length / (size * inner);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const at = (k: number) => (o * size + k) * inner + i;
        let max = -Infinity;
        for (let k = 0; k < size; k++) max = Math.max(max, v[at(k)]);
        let sum = 0;
        for (let k = 0; k < size; k++) sum += Math.exp(v[at(k)] - max);
        for (let k = 0; k < size; k++) out[at(k)] = f(Math.exp(v[at(k)] - max) / sum);
      }
    }
  }
  return out;
}

/**
 * Sets the output qparams a TorchScript archive kept as attributes (loadArchive(file).attributes:
 * 'features.0.2.scale' -> number, 'features.0.2.zero_point' -> number; Sigmoid's
 * output_scale/output_zero_point) on the modules of the same names. Every attribute must name
 * a Hardswish/ELU/Sigmoid/Softmax of the model; on error nothing changes.
 *
 * @example
 * const archive = loadArchive('mobilenet_v3_large_quantized.pt');
 * net.loadStateDict(archive.stateDict);
 * loadOutputQParams(net, archive.attributes);
 */
export function loadOutputQParams(model: Module, attributes: ReadonlyMap<string, unknown>): void {
  if (!(attributes instanceof Map)) throw validate.invalidType('Map of attribute name to number (loadArchive(file).attributes)', 'attributes', attributes);
  const modules = new Map<string, Calibratable>();
  for (const [name, module] of model.namedModules()) if (isCalibratable(module)) modules.set(name, module);
  const updates = new Map<Calibratable, QParams>();
  for (const [key, value] of attributes) {
    const match = /^(?:(.*)\.)?(scale|zero_point|output_scale|output_zero_point)$/.exec(String(key));
    const module = match === null ? undefined : modules.get(match[1] ?? '');
    if (match === null || module === undefined) {
      throw new RangeError(`loadOutputQParams: '${String(key)}' names no Hardswish, ELU, Sigmoid or Softmax of ${model.getName()}`);
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) throw validate.invalidType('finite number', `attributes.get('${String(key)}')`, value);
    const qparams = updates.get(module) ?? { ...getQParams(module) };
    if (match[2].endsWith('scale')) qparams.scale = validate.positiveFiniteNumber(value, `attributes.get('${String(key)}')`);
    else qparams.zeroPoint = validate.integerInRange(value, `attributes.get('${String(key)}')`, -128, 255);
    updates.set(module, qparams);
  }
  for (const [module, qparams] of updates) setQParams(module, qparams);
}

export interface CalibrateOptions {
  /** A new observer per module (default: () => new MinMaxObserver(), quint8 per-tensor affine, no reduceRange). */
  observer?: () => MinMaxObserver;
  /** Calibrate every Hardswish/ELU/Sigmoid/Softmax, not only those whose qparams are missing. */
  all?: boolean;
}

/**
 * Calibrates the output qparams of the modules a state dict left without them, over one
 * forward of `batch` (put all calibration images in one [N, 3, H, W] batch). Returns the
 * qparams chosen, by module name. On error no module changes.
 *
 * @example
 * const net = models.quantization.mobilenetV3Large();
 * net.loadStateDict(await load('mobilenet_v3_large_qnnpack.pth'));
 * calibrate(net, calibrationBatch);   // torchvision calibrates with one random batch too
 */
export function calibrate(model: Module, batch: Tensor, options?: CalibrateOptions): Map<string, QParams> {
  const o = validate.options(options, 'options', ['observer', 'all']);
  const makeObserver = o.observer === undefined ? () => new MinMaxObserver() : o.observer;
  if (typeof makeObserver !== 'function') throw validate.invalidType('function returning a MinMaxObserver', 'options.observer', makeObserver);
  const all = o.all === undefined ? false : validate.boolean(o.all, 'options.all');
  if (!(batch instanceof Tensor)) throw validate.invalidType('fp32 Tensor (the calibration batch)', 'batch', batch);

  const targets: Array<[string, Calibratable]> = [];
  for (const [name, module] of model.namedModules()) {
    if (isCalibratable(module) && (all || Number.isNaN(getQParams(module).scale))) targets.push([name, module]);
  }
  const saved = targets.map(([, module]) => getQParams(module));
  const chosen = new Map<string, QParams>();
  const instances = targets.map(([name, module]) => {
    const instance = module as unknown as Record<string, unknown>;
    const observe = (x: QTensor) => {
      if (!(x instanceof QTensor)) throw validate.invalidType('QTensor', `input of ${name}`, x);
      const observer = makeObserver();
      observer.observe(floatOp(module, x.dequantize()));
      const qparams = observer.calculateQParams();
      setQParams(module, qparams);
      chosen.set(name, qparams);
      delete instance.forward;
      delete instance.forwardAsync;
    };
    // Own (non-enumerable) overrides that observe on the first call, then remove themselves.
    Object.defineProperty(instance, 'forward', { configurable: true, writable: true, value: (x: QTensor) => (observe(x), module.forward(x)) });
    Object.defineProperty(instance, 'forwardAsync', { configurable: true, writable: true, value: (x: QTensor) => (observe(x), module.forwardAsync(x)) });
    // A valid placeholder so the model's own check lets the forward start.
    setQParams(module, { scale: 1, zeroPoint: 0 });
    return instance;
  });
  try {
    model.forward(batch);
    const unreached = targets.filter(([name]) => !chosen.has(name)).map(([name]) => name);
    if (unreached.length > 0) throw new Error(`calibrate: the forward did not reach ${unreached.join(', ')}; their qparams stay missing`);
  } catch (error) {
    targets.forEach(([, module], i) => setQParams(module, saved[i]));
    throw error;
  } finally {
    for (const instance of instances) {
      delete instance.forward;
      delete instance.forwardAsync;
    }
  }
  return chosen;
}
