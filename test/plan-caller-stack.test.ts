// lib/plan.ts's caller stack: an error the native side raises off the event loop points at the line that called ...Async (embedding included).
import { nnq, tensor } from '..';

/** The error a Promise rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('async errors raised natively carry the caller\'s stack', () => {
  const weight = tensor(new Float32Array(40), [10, 4]);

  test('nnq.EmbeddingBag.forwardAsync with an index past the table (checked in the binding)', async () => {
    const bag = nnq.EmbeddingBag.fromFloat({ weight });
    const error = await rejection(bag.forwardAsync(new Int32Array([1, 1000]), new Int32Array([0])));
    expect(error.name).toBe('RangeError'); // by name: the addon's errors come from another realm than jest's vm
    expect(error.message).toBe('Expected an index in [0, 10) (the table rows) for indices[1] but received 1000 of type number');
    // The first frame under the message is this file: the rejection settled from libuv's loop had none.
    expect(error.stack?.split('\n')[1]).toContain('plan-caller-stack.test.ts');
  });

  test('nnq.Embedding.forwardAsync with an index past the table', async () => {
    const emb = nnq.Embedding.fromFloat({ weight });
    const error = await rejection(emb.forwardAsync(new Int32Array([1, 1000])));
    expect(error.name).toBe('RangeError'); // by name: the addon's errors come from another realm than jest's vm
    expect(error.stack?.split('\n')[1]).toContain('plan-caller-stack.test.ts');
  });
});
