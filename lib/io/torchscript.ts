// The state dict of a TorchScript archive (torch.jit.save), read from its pickled object tree and its class declarations, without running any TorchScript.
//
// A scripted module pickles as an object per module: a dict of all its attributes (or, for
// classes with __getstate__ such as quantized conv, the tuple that returns). Which
// attributes are parameters and buffers is only written in the class declarations of
// code/ (`__parameters__ = [...]`, `__buffers__ = [...]`), read here as text. Quantized
// modules whose _save_to_state_dict adds entries (conv, linear, QFunctional, embedding
// packed params) get the same keys here, in the same order, as model.state_dict() gives.

import { QTensor } from '../qtensor';
import { Tensor, makeTensor } from '../tensor';
import { Where, loadError } from './errors';
import { isTuple } from './pickle';
import { makeStoredTensor } from './stored-tensor';
import { ScriptObject } from './torch-pickle';
import type { StateDict, StateValue } from './state-dict';

/** What code/ says about one TorchScript class. */
export interface ScriptClassInfo {
  readonly isModule: boolean;
  readonly parameters: readonly string[];
  readonly buffers: readonly string[];
}

/**
 * Reads the class declarations of code/<path>.py files: the qualified name
 * (`__torch__.torch.nn.modules.conv.Conv2d`, mangled ones included), whether the class is a
 * Module, and its parameter and buffer lists. Text only: the code is never run.
 */
export function parseScriptClasses(files: ReadonlyMap<string, string>): Map<string, ScriptClassInfo> {
  const classes = new Map<string, ScriptClassInfo>();
  for (const [path, source] of files) {
    const module = path.replace(/\.py$/, '').split('/').join('.');
    const lines = source.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const header = /^class ([A-Za-z_][\w.]*)\(([\w.]*)\):/.exec(lines[i]);
      if (header === null) continue;
      const lists: { parameters: string[]; buffers: string[] } = { parameters: [], buffers: [] };
      // The declarations come first in the class body; stop at the first method.
      for (let j = i + 1; j < lines.length && /^ {2}\S/.test(lines[j]) && !/^ {2}def /.test(lines[j]); j++) {
        const list = /^ {2}__(parameters|buffers)__ = \[(.*)\]\s*$/.exec(lines[j]);
        if (list !== null) lists[list[1] as 'parameters' | 'buffers'] = Array.from(list[2].matchAll(/"([^"]*)"/g), (m) => m[1]);
      }
      classes.set(`${module}.${header[1]}`, { isModule: header[2] === 'Module', ...lists });
    }
  }
  return classes;
}

/** Names of torch's ScalarType enum, as TorchScript stores a module's `dtype` attribute (an int). */
const SCALAR_TYPES = [
  'uint8', 'int8', 'int16', 'int32', 'int64', 'float16', 'float32', 'float64', 'complex32', 'complex64', 'complex128',
  'bool', 'qint8', 'quint8', 'qint32', 'bfloat16', 'quint4x2', 'quint2x4',
];

/** What a TorchScript archive holds: the state dict, and the attributes of quantized modules that state_dict() does not save. */
export interface ScriptState {
  readonly stateDict: StateDict;
  readonly attributes: Map<string, StateValue>;
}

// Output-qparams attribute names of quantized modules whose state_dict() omits them (Hardswish, ELU, Softmax: scale/zero_point; Sigmoid: output_*).
const QPARAM_ATTRIBUTES = ['scale', 'zero_point', 'output_scale', 'output_zero_point'];
const MAX_DEPTH = 1000;
// A module shared by many parents is visited once per path (as torch's state_dict() does); a hostile DAG could make that exponential.
const MAX_MODULE_VISITS = 1_000_000;

/** Walks the module tree from `root`, emitting each module's entries then its children's, as Module.state_dict() orders them. */
export function scriptStateDict(root: unknown, classes: ReadonlyMap<string, ScriptClassInfo>, where: Where): ScriptState {
  const stateDict: StateDict = new Map();
  const attributes = new Map<string, StateValue>();
  const onPath = new Set<ScriptObject>();
  const fail = (problem: string): never => {
    throw loadError(where, problem);
  };
  if (!(root instanceof ScriptObject)) fail('the TorchScript archive does not hold a module object');

  const isModule = (value: unknown): value is ScriptObject => value instanceof ScriptObject && classes.get(value.className)?.isModule === true;
  const scalarTensor = (value: unknown, key: string): Tensor => {
    if (typeof value !== 'number') fail(`TorchScript attribute ${key} is not a float`);
    return makeTensor(Float32Array.of(value as number), [], []);
  };
  const int64Tensor = (value: unknown, key: string): StateValue => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) fail(`TorchScript attribute ${key} is not an int`);
    return makeStoredTensor('int64', BigInt64Array.of(BigInt(value as number)), [], []);
  };
  const dtypeName = (value: unknown, key: string): string => {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < SCALAR_TYPES.length) return `torch.${SCALAR_TYPES[value]}`;
    return fail(`TorchScript attribute ${key} is not a dtype`);
  };
  /** (weight, bias) of a packed-params object: (w, b) tuples, or the (version, tensors, optionals) form. */
  const weightBias = (packed: unknown, key: string): [QTensor, Tensor | null] => {
    const state = packed instanceof ScriptObject ? packed.state : undefined;
    if (!Array.isArray(state)) return fail(`${key}: packed params without a tuple state`);
    const s = state as unknown[];
    let weight: unknown;
    let bias: unknown = null;
    if (s.length === 2 && s[0] instanceof QTensor) {
      [weight, bias] = s;
    } else if (s.length === 3 && Array.isArray(s[1]) && Array.isArray(s[2])) {
      // Conv packed params, version 2 ('2', [params, weight], [bias]) or 3 (3, [config ints], [weight, bias]).
      const tensors = s[1] as unknown[];
      const optionals = s[2] as unknown[];
      if (s[0] === '2') [weight, bias] = [tensors[1], optionals[0] ?? null];
      else if (s[0] === 3) [weight, bias] = [optionals[0], optionals[1] ?? null];
    }
    if (!(weight instanceof QTensor) || !(bias === null || bias instanceof Tensor)) return fail(`${key}: packed params state of an unknown form`);
    return [weight, bias as Tensor | null];
  };
  const packedClass = (value: unknown): string | undefined =>
    value instanceof ScriptObject && value.className.startsWith('__torch__.torch.classes.') ? value.className.slice(value.className.lastIndexOf('.') + 1) : undefined;

  let visits = 0;
  const visit = (module: ScriptObject, prefix: string, depth: number): void => {
    if (++visits > MAX_MODULE_VISITS) fail(`TorchScript module tree has more than ${MAX_MODULE_VISITS} module paths`);
    if (depth > MAX_DEPTH || onPath.has(module)) fail(`TorchScript module tree is cyclic or deeper than ${MAX_DEPTH} levels at ${prefix || '<root>'}`);
    onPath.add(module);
    const state = module.state;
    const className = module.className;
    const tail = className.slice(className.lastIndexOf('.') + 1);
    if (isTuple(state)) {
      // _ConvNd.__getstate__: (in, out, kernel, stride, padding, dilation, transposed, output_padding, groups, padding_mode, w, b, scale, zp, training).
      if (state.length === 15 && state[10] instanceof QTensor) {
        stateDict.set(`${prefix}weight`, state[10] as QTensor);
        stateDict.set(`${prefix}bias`, state[11] as StateValue);
        stateDict.set(`${prefix}scale`, scalarTensor(state[12], `${prefix}scale`));
        stateDict.set(`${prefix}zero_point`, int64Tensor(state[13], `${prefix}zero_point`));
      } else {
        fail(`TorchScript module ${prefix || '<root>'} (${className}) keeps its state in a form qkernels does not know`);
      }
    } else if (state instanceof Map) {
      const info = classes.get(className);
      if (info === undefined) fail(`TorchScript archive has no declaration of class ${className} in code/`);
      for (const name of [...info!.parameters, ...info!.buffers]) {
        const value = state.get(name);
        if (value === undefined) fail(`TorchScript module ${prefix || '<root>'} declares ${name} but does not hold it`);
        // Module.state_dict() skips parameters and buffers that are None.
        if (value !== null) stateDict.set(prefix + name, value as StateValue);
      }
      const declared = new Set([...info!.parameters, ...info!.buffers]);
      const packed = state.get('_packed_params');
      const linearLike = isModule(packed) && packedClass((packed.state as Map<string, unknown> | undefined)?.get?.('_packed_params')) === 'LinearPackedParamsBase';
      if (tail === 'LinearPackedParams' && packedClass(state.get('_packed_params')) !== undefined) {
        stateDict.set(`${prefix}dtype`, dtypeName(state.get('dtype'), `${prefix}dtype`));
        stateDict.set(`${prefix}_packed_params`, weightBias(state.get('_packed_params'), `${prefix}_packed_params`));
      } else if (tail === 'EmbeddingPackedParams' && packedClass(state.get('_packed_weight')) === 'EmbeddingPackedParamsBase') {
        stateDict.set(`${prefix}dtype`, dtypeName(state.get('dtype'), `${prefix}dtype`));
        // EmbeddingPackedParamsBase state: (version, [weight], doubles, longs).
        const packedState = (state.get('_packed_weight') as ScriptObject).state;
        const weight = Array.isArray(packedState) && Array.isArray(packedState[1]) ? (packedState[1] as unknown[])[0] : undefined;
        if (!(weight instanceof QTensor)) fail(`${prefix}_packed_weight: embedding packed params state of an unknown form`);
        stateDict.set(`${prefix}_packed_weight`, weight as QTensor);
      } else if (packedClass(packed)?.startsWith('Conv') === true) {
        const [weight, bias] = weightBias(packed, `${prefix}_packed_params`);
        stateDict.set(`${prefix}weight`, weight);
        stateDict.set(`${prefix}bias`, bias);
      }
      // Which modules save their output qparams in state_dict(): linear (nnq, nniq, nnqd), QFunctional, and conv held as a packed-params attribute.
      const savesQParams = linearLike || tail === 'QFunctional' || packedClass(packed)?.startsWith('Conv') === true;
      for (const name of QPARAM_ATTRIBUTES) {
        const value = state.get(name);
        if (declared.has(name) || typeof value !== 'number') continue;
        if (savesQParams && (name === 'scale' || name === 'zero_point')) {
          stateDict.set(prefix + name, name === 'scale' ? scalarTensor(value, prefix + name) : int64Tensor(value, prefix + name));
        } else if (className.includes('.quantized.')) {
          attributes.set(prefix + name, value);
        }
      }
      for (const [name, value] of state) {
        if (isModule(value)) visit(value, `${prefix}${String(name)}.`, depth + 1);
      }
    } else if (state !== undefined && state !== null) {
      fail(`TorchScript module ${prefix || '<root>'} (${className}) has a state qkernels does not know`);
    }
    onPath.delete(module);
  };
  visit(root as ScriptObject, '', 0);
  return { stateDict, attributes };
}
