// The torch-shaped namespaces: qF, nnq, nnqd, nniq, nn and ops, each a frozen object of what exists so far.
//
// nn.quantized === nnq, nn.quantized.functional === nnq.functional === qF,
// nn.quantized.dynamic === nnq.dynamic === nnqd, nn.intrinsic.quantized === nniq,
// ops.quantized mirrors torch.ops.quantized (camelCase). Namespaces without members yet
// are empty: later capabilities add their functions and modules here.

import { DeQuantize as DeQuantizeModule, Quantize as QuantizeModule } from './modules/quantize';

/** torch.ao.nn.quantized.functional. */
export const qF = Object.freeze({});

/** torch.ao.nn.quantized.dynamic. */
export const nnqd = Object.freeze({});

/** torch.ao.nn.intrinsic.quantized. */
export const nniq = Object.freeze({});

/** torch.ao.nn.quantized. */
export const nnq = Object.freeze({
  Quantize: QuantizeModule,
  DeQuantize: DeQuantizeModule,
  functional: qF,
  dynamic: nnqd,
});
// The module classes as types too, so `let m: nnq.Quantize` works as it does in torch.
export declare namespace nnq {
  type Quantize = QuantizeModule;
  type DeQuantize = DeQuantizeModule;
}

/** torch.ao.nn. */
export const nn = Object.freeze({
  quantized: nnq,
  intrinsic: Object.freeze({ quantized: nniq }),
});

/** torch.ops. */
export const ops = Object.freeze({
  quantized: Object.freeze({}),
});
