// Op plans of the linear-conv family: checked once, then run now or off the event loop with the caller's stack.

import { CallerStack, OpPlan, QTensor, makePerTensorQuantizedTensor } from '../qtensor';

/** A plan from a native sync/async pair and a function that wraps the native result. */
export function makePlan<R, T>(sync: () => R, async: () => Promise<R>, finish: (result: R) => T): OpPlan<T> {
  return {
    run: () => finish(sync()),
    runAsync: (caller) =>
      async().then(finish, (error: unknown) => {
        // A native rejection settles from libuv's loop and has no JS frames: point it at the caller.
        if (error instanceof Error && caller.stack !== undefined) {
          error.stack = `${error.name}: ${error.message}\n${caller.stack.split('\n').slice(1).join('\n')}`;
        }
        throw error;
      }),
  };
}

/** Runs an async plan; argument errors reject the Promise rather than throw. */
export function runPlanAsync<T>(caller: CallerStack, plan: () => OpPlan<T>): Promise<T> {
  try {
    return plan().runAsync(caller);
  } catch (error) {
    return Promise.reject(error);
  }
}

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
