// Zero-copy handoffs: donate() gives a tensor's memory to the async op that reads it (no input copy), recycle() gives a spent tensor's memory to later outputs (no new ArrayBuffer).
//
// Why and how: native/addon/handoff.h. In short, an async op copies its inputs at call time
// (a caller may overwrite them while it runs) and allocates its output; for large activations
// that is JS-thread time and garbage-collector work per call, which shows up as event-loop lag.
// A caller that is done with a tensor can hand its memory over instead: the ArrayBuffer is
// transferred (as postMessage does), so no JS code can reach the memory while native code reads
// or writes it, and the tensor handed over is detached.

import { QStorage, addon } from './native';
import { QTensor } from './qtensor';
import { Tensor, makeTensor } from './tensor';
import * as validate from './validate';

/**
 * Gives `tensor`'s memory to the next async op (`forwardAsync`, an `*Async` function, a traced
 * module's `forwardAsync`) that reads it: that op reads it in place instead of copying it.
 *
 * Donate only what one async op reads: an eager module's forwardAsync may read its input in
 * several ops (a residual connection adds it back), and the first takes it; a traced module's
 * forwardAsync reads it once. A later read of a taken tensor is a TypeError that says so.
 *
 * Returns the tensor to pass (same shape, strides, values and qparams). `tensor` itself is
 * detached at once, with every other view of its ArrayBuffer (its storage was transferred); the
 * returned tensor is an ordinary tensor until an async op takes it, then it is detached too, and
 * once that op has finished its memory is reused for later outputs (see recycle). Sync ops read
 * it in place as they read any tensor, without taking it.
 *
 * A TypeError names `tensor` when it is not a QTensor or Tensor, or when its storage cannot be
 * transferred: a SharedArrayBuffer, a detached buffer, or Node's shared Buffer pool.
 */
export function donate<T extends QTensor | Tensor>(tensor: T): T {
  if (!(tensor instanceof QTensor) && !(tensor instanceof Tensor)) throw validate.invalidType('QTensor or Tensor', 'tensor', tensor);
  const data = addon.donate(tensor.data);
  validate.donatedBuffers.add(data.buffer);
  return (tensor instanceof QTensor ? QTensor.withStorage(tensor, data as QStorage) : makeTensor(data as Float32Array, tensor.shape, tensor.strides)) as T;
}

/**
 * Gives a tensor the caller is done with back to qkernels: its ArrayBuffer (transferred: the
 * tensor and every other view of the buffer are detached) joins a pool from which later outputs
 * of exactly that byte length, sync or async, are made instead of allocating. The pool holds at
 * most 64 buffers and 64 MiB per thread; past that the oldest are left to the garbage collector.
 *
 * A TypeError names `tensor` when it is not a QTensor or Tensor, or when its storage cannot be
 * transferred (a SharedArrayBuffer, a detached buffer, Node's shared Buffer pool).
 */
export function recycle(tensor: QTensor | Tensor): void {
  if (tensor instanceof QTensor || tensor instanceof Tensor) {
    addon.recycle(tensor.data);
    return;
  }
  throw validate.invalidType('QTensor or Tensor', 'tensor', tensor);
}
