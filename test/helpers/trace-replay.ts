// Checks that an op's recorded plan step (its `<op>Trace` form) replays exactly: a one-step plan on new inputs gives the eager op's bytes.
import { addon as loadedAddon } from '../../dist/native';

/** The raw binding, with the trace and plan functions looked up by name. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const raw = loadedAddon as unknown as Record<string, (...args: any[]) => any>;

type Bytes = ArrayBufferView;

function bytesOf(view: Bytes): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

export interface Replay {
  /** The trace form's eager output equals the sync form's on the traced arguments. */
  tracedOutputMatches: boolean;
  /** The one-step plan, run sync on `replayArgs`' graph inputs, equals the sync op on `replayArgs`. */
  syncMatches: boolean;
  /** The same through planRunAsync. */
  asyncMatches: boolean;
  /** Which arguments the step reads as graph inputs. */
  inputArgs: number[];
}

/**
 * Traces `op` (an addon function name, e.g. 'maxPool') on `traceArgs`, builds a one-step plan
 * whose inputs are the step's graph inputs, runs it on the same positions of `replayArgs`
 * (same shapes, other data) and compares with `op(...replayArgs)`. A step that captured its
 * trace-time input instead of reading the plan's buffer fails `syncMatches`.
 */
export async function replayStep(op: string, traceArgs: unknown[], replayArgs: unknown[]): Promise<Replay> {
  const record = raw[`${op}Trace`](...traceArgs) as { output: Bytes; step: unknown; inputs: number[] };
  const eager = raw[op](...traceArgs) as Bytes;
  const plan = raw.planCreate();
  const ids = record.inputs.map((arg) => {
    const input = traceArgs[arg] as Bytes;
    return raw.planAddInput(plan, input.byteLength, input.constructor.name) as number;
  });
  const out = raw.planAddStep(plan, record.step, new Float64Array(ids)) as number;
  raw.planAddOutput(plan, out, record.output.constructor.name);
  raw.planFinalize(plan);
  const replayInputs = record.inputs.map((arg) => replayArgs[arg]);
  const want = bytesOf(raw[op](...replayArgs) as Bytes);
  const [sync] = raw.planRun(plan, ...replayInputs) as Bytes[];
  const [async] = (await raw.planRunAsync(plan, ...replayInputs)) as Bytes[];
  return {
    tracedOutputMatches: bytesOf(record.output).equals(bytesOf(eager)),
    syncMatches: bytesOf(sync).equals(want),
    asyncMatches: bytesOf(async).equals(want),
    inputArgs: record.inputs,
  };
}
