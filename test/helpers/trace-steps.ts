// Shared by the trace-steps suites: asserts an op's recorded step replays exactly on new inputs, and that those inputs change its output.
import { addon as loadedAddon } from '../../dist/native';
import { replayStep } from './trace-replay';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const raw = loadedAddon as unknown as Record<string, (...args: any[]) => ArrayBufferView>;

function bytesOf(view: ArrayBufferView): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

/**
 * Traces `op` on `traceArgs`, replays its one-step plan on `replayArgs` (same shapes, other
 * data), and expects every replay to equal the eager op and the step to read `inputArgs`.
 * With `inputsMatter` (unless the output is empty), the eager outputs of the two argument lists
 * must differ: a step that replayed its trace-time input would otherwise pass unnoticed.
 */
export async function expectReplays(op: string, traceArgs: unknown[], replayArgs: unknown[], inputArgs: number[], inputsMatter = true): Promise<void> {
  const replay = await replayStep(op, traceArgs, replayArgs);
  expect(replay).toEqual({ tracedOutputMatches: true, syncMatches: true, asyncMatches: true, inputArgs });
  const traced = bytesOf(raw[op](...traceArgs));
  if (inputsMatter && traced.length > 0) expect(traced.equals(bytesOf(raw[op](...replayArgs)))).toBe(false);
}
