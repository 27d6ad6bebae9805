// Op plans of the linear-conv family: checked once, then run now or off the event loop with the caller's stack.

import { QTensor, makePerTensorQuantizedTensor } from '../qtensor';

/** The memory order of a conv activation: [0, 1, 2, ...] (contiguous) or [0, 2, ..., 1] (channels last). */
export function channelsLastOrder(rank: number): number[] {
  return [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2), 1];
}

/**
 * A quint8 per-tensor QTensor over `storage` that holds `shape`'s elements in `order`
 * (memory order of the dims, outermost first): a permuted view of a dense tensor.
 */
export function quint8Output(storage: Uint8Array, shape: readonly number[], order: readonly number[] | null, scale: number, zeroPoint: number): QTensor {
  if (order === null) return makePerTensorQuantizedTensor(storage, shape, scale, zeroPoint, 'quint8');
  const dense = makePerTensorQuantizedTensor(storage, order.map((d) => shape[d]), scale, zeroPoint, 'quint8');
  const inverse = new Array<number>(order.length);
  order.forEach((d, i) => {
    inverse[d] = i;
  });
  return dense.permute(inverse);
}
