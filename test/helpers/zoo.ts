// The zoo tests' fixtures: torchvision models generated once per run by scripts/zoo/make_zoo.py, and logits compared in quanta.
//
// Files go to QKERNELS_ZOO_CACHE or a temp directory named after the generator script's
// hash, so every jest file of a run (and reruns with an unchanged script) reuses them.
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { nn, tensor, Tensor } from '../..';
import { ORACLE_PYTHON } from '../oracle';

export const ZOO_SCRIPT = path.join(__dirname, '..', '..', 'scripts', 'zoo', 'make_zoo.py');

/** Whether the large models (resnet50, resnext101_32x8d, inception_v3) run: QKERNELS_ZOO_FULL=1. */
export const ZOO_FULL = process.env.QKERNELS_ZOO_FULL === '1';

/** `arches`, or only those named in QKERNELS_ZOO_ARCHES=a,b (to rerun a few models; an unknown name throws). */
export function selectedArches(arches: readonly string[]): string[] {
  const only = process.env.QKERNELS_ZOO_ARCHES;
  if (only === undefined || only === '') return [...arches];
  const names = only.split(',').map((name) => name.trim());
  for (const name of names) if (!arches.includes(name)) throw new Error(`QKERNELS_ZOO_ARCHES: ${name} is not one of ${arches.join(', ')}`);
  return arches.filter((arch) => names.includes(arch));
}

export interface ZooMeta {
  arch: string;
  inputShape: number[];
  calibrationShape: number[];
  logitsShape: number[];
  outputScale: number;
  outputZeroPoint: number;
  /** The engine torch converted and ran the model under. */
  engine: string;
  calibrated: Record<string, { scale: number; zeroPoint: number }>;
}

export interface ZooFixture {
  meta: ZooMeta;
  stateDictFile: string;
  torchScriptFile: string;
  inputs: Tensor;
  calibration: Tensor;
  logits: Float32Array;
  /** print(model) of the converted model. */
  repr: string;
}

export function zooCacheDir(): string {
  if (process.env.QKERNELS_ZOO_CACHE) return process.env.QKERNELS_ZOO_CACHE;
  const hash = createHash('sha256').update(fs.readFileSync(ZOO_SCRIPT)).digest('hex').slice(0, 12);
  return path.join(os.tmpdir(), `qkernels-zoo-${hash}`);
}

function readFloats(file: string, shape: number[]): Float32Array {
  const bytes = fs.readFileSync(file);
  const out = new Float32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  if (out.length !== shape.reduce((a, b) => a * b, 1)) throw new Error(`${file}: ${out.length} floats for shape [${shape}]`);
  return out;
}

/**
 * Generates (when not cached) and reads the fixtures of `arches`, converted and run by torch
 * under `engine` (onednn: per-channel weights; qnnpack: torchvision's per-tensor weights).
 */
export function zooFixtures(arches: readonly string[], engine: 'onednn' | 'qnnpack' = 'onednn'): Map<string, ZooFixture> {
  const dir = engine === 'onednn' ? zooCacheDir() : path.join(zooCacheDir(), engine);
  const generated = spawnSync(ORACLE_PYTHON, [ZOO_SCRIPT, '--out', dir, '--engine', engine, ...arches], { encoding: 'utf8', timeout: 600000 });
  if (generated.status !== 0) throw new Error(`make_zoo.py failed (${generated.status}): ${generated.stderr}`);
  const fixtures = new Map<string, ZooFixture>();
  for (const arch of arches) {
    const stem = path.join(dir, arch);
    const meta = JSON.parse(fs.readFileSync(`${stem}.json`, 'utf8')) as ZooMeta;
    fixtures.set(arch, {
      meta,
      stateDictFile: `${stem}.pth`,
      torchScriptFile: `${stem}.pt`,
      inputs: tensor(readFloats(`${stem}.inputs.bin`, meta.inputShape), meta.inputShape),
      calibration: tensor(readFloats(`${stem}.calibration.bin`, meta.calibrationShape), meta.calibrationShape),
      logits: readFloats(`${stem}.logits.bin`, meta.logitsShape),
      repr: fs.readFileSync(`${stem}.repr.txt`, 'utf8'),
    });
  }
  return fixtures;
}

/** torch.argmax: the first index of the maximum. */
export function argmaxRows(values: Float32Array, rows: number): number[] {
  const cols = values.length / rows;
  return Array.from({ length: rows }, (_, r) => {
    let best = 0;
    for (let c = 1; c < cols; c++) if (values[r * cols + c] > values[r * cols + best]) best = c;
    return best;
  });
}

export interface Agreement {
  top1Equal: number;
  inputs: number;
  exactShare: number;
  maxQuanta: number;
}

/** Agreement of qkernels' logits with torch's: top-1 per input, share of exact logits, largest difference in output quanta. */
export function agreement(got: Float32Array, expected: Float32Array, rows: number, outputScale: number): Agreement {
  const a = argmaxRows(got, rows);
  const b = argmaxRows(expected, rows);
  let exact = 0;
  let maxQuanta = 0;
  for (let i = 0; i < got.length; i++) {
    if (got[i] === expected[i]) exact++;
    maxQuanta = Math.max(maxQuanta, Math.round(Math.abs(got[i] - expected[i]) / outputScale));
  }
  return { top1Equal: a.filter((v, i) => v === b[i]).length, inputs: rows, exactShare: exact / got.length, maxQuanta };
}

/** One line of the agreement table the zoo tests print (and write next to the fixtures). */
export function agreementLine(arch: string, source: string, a: Agreement): string {
  return `${arch.padEnd(20)} ${source.padEnd(12)} top-1 ${a.top1Equal}/${a.inputs}  exact logits ${(100 * a.exactShare).toFixed(1).padStart(5)}%  max diff ${a.maxQuanta} quanta`;
}

/**
 * load()'s StateDict as loadStateDict's parameter type. The loader's StateValue also allows
 * Uint8Array and non-string Map keys, which nn's type lacks (the values a zoo file holds are
 * in both): a type-level mismatch between the two branches, left for the merge to unify.
 */
export function asModuleState(stateDict: Map<string, unknown>): Parameters<InstanceType<typeof nn.Module>['loadStateDict']>[0] {
  return stateDict as unknown as Parameters<InstanceType<typeof nn.Module>['loadStateDict']>[0];
}
