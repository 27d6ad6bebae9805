// backend: which ISA level the kernels dispatch to, how many threads they use, and the package version.

import * as fs from 'fs';
import * as path from 'path';

import { addon, addonPath, packageRoot } from './native';
import * as validate from './validate';

/** Dispatch levels: x86 scalar < avx2 < avx512vnni, arm64 scalar < neon < neondot. */
export type Isa = 'scalar' | 'avx2' | 'avx512vnni' | 'neon' | 'neondot';

export interface BackendInfo {
  /** The level in force: min(bestIsa, the cap from QKERNELS_MAX_ISA or setMaxIsa). */
  isa: Isa;
  /** The highest level this CPU (and OS) can run. */
  bestIsa: Isa;
  /** CPU features detected, e.g. ['avx2', 'fma', 'f16c']. */
  features: string[];
  /** Threads a native op may use (caller included); default 1. */
  threads: number;
  /** The qkernels package version. */
  version: string;
  /** The native addon file in use: a prebuild, a local build, or QKERNELS_ADDON's. */
  binary: string;
}

const ISAS: readonly Isa[] = ['scalar', 'avx2', 'avx512vnni', 'neon', 'neondot'];

/** The levels of the architecture this process runs on; the others can never be selected. */
function nativeIsas(): readonly Isa[] {
  if (process.arch === 'x64' || process.arch === 'ia32') return ['scalar', 'avx2', 'avx512vnni'];
  if (process.arch === 'arm64') return ['scalar', 'neon', 'neondot'];
  return ['scalar'];
}

const version: string = (JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;

// A bad QKERNELS_MAX_ISA does not stop loading (the best level is used) but must not pass
// silently either: warn once per process, however many times the module is loaded.
const warnedKey = Symbol.for('qkernels.maxIsaWarningEmitted');
{
  const envError = addon.backendInfo().envMaxIsaError;
  const flags = process as unknown as Record<symbol, boolean>;
  if (envError && !flags[warnedKey]) {
    flags[warnedKey] = true;
    process.emitWarning(envError, { type: 'QkernelsWarning', code: 'QKERNELS_MAX_ISA' });
  }
}

/** What the kernels run on. */
function info(): BackendInfo {
  const native = addon.backendInfo();
  return {
    isa: native.isa as Isa,
    bestIsa: native.bestIsa as Isa,
    features: native.features,
    threads: native.threads,
    version,
    binary: addonPath,
  };
}

/** Sets how many threads a native op may use (caller included), 1..256. Outputs are identical for any count. */
function setNumThreads(threads: number): void {
  addon.setNumThreads(validate.integerInRange(threads, 'threads', 1, 256));
}

function getNumThreads(): number {
  return addon.getNumThreads();
}

/**
 * Caps dispatch at `isa` and returns the level now in force (a cap above the CPU's best
 * means the best). Levels of another architecture are rejected.
 */
function setMaxIsa(isa: Isa): Isa {
  const level = validate.oneOf(isa, 'isa', ISAS);
  const allowed = nativeIsas();
  if (!allowed.includes(level)) {
    throw validate.invalidRange(`one of ${allowed.join(', ')} (the ISA levels of ${process.arch})`, 'isa', isa);
  }
  return addon.setMaxIsa(level) as Isa;
}

/** The level in force. */
function getIsa(): Isa {
  return addon.getIsa() as Isa;
}

/**
 * The backend: `info()`, `setNumThreads(n)`, `getNumThreads()`, `setMaxIsa(isa)`, `getIsa()`.
 * The ISA cap and the thread count are process-wide (shared by all worker_threads).
 *
 * @example
 * backend.info();           // { isa: 'avx2', bestIsa: 'avx2', features: [...], threads: 1, version: '0.1.0' }
 * backend.setMaxIsa('scalar');
 */
export const backend = Object.freeze({ info, setNumThreads, getNumThreads, setMaxIsa, getIsa });
