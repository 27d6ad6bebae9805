// backend: which ISA level the kernels dispatch to, which quantized engine's numerics they follow, how many threads they use, and the package version.

import * as fs from 'fs';
import * as path from 'path';

import { addon, addonPath, packageRoot } from './native';
import * as validate from './validate';

/** Dispatch levels: x86 scalar < avx2 < avx512vnni, arm64 scalar < neon < neondot. */
export type Isa = 'scalar' | 'avx2' | 'avx512vnni' | 'neon' | 'neondot';

/**
 * PyTorch's quantized engines (`torch.backends.quantized.engine`) whose arithmetic qkernels
 * reproduces bit for bit; 'x86' is torch 2.x's name, with fbgemm's numerics.
 */
export type QuantizedEngine = 'fbgemm' | 'x86' | 'onednn' | 'qnnpack';

const ENGINES: readonly QuantizedEngine[] = ['fbgemm', 'x86', 'onednn', 'qnnpack'];

export interface BackendInfo {
  /** The level in force: min(bestIsa, the cap from QKERNELS_MAX_ISA or setMaxIsa). */
  isa: Isa;
  /** The highest level this CPU (and OS) can run. */
  bestIsa: Isa;
  /** CPU features detected, e.g. ['avx2', 'fma', 'f16c']. */
  features: string[];
  /** The quantized engine whose numerics the ops follow (default 'fbgemm'). */
  quantizedEngine: QuantizedEngine;
  /** Threads a native op may use (caller included); default 1. */
  threads: number;
  /** The qkernels package version. */
  version: string;
  /** The native addon file in use: a prebuild, a local build, or QKERNELS_ADDON's. */
  binary: string;
  /**
   * Bytes of freed heap that glibc's malloc keeps for later outputs instead of returning them to
   * the kernel (QKERNELS_KEEP_FREED_MB, default 128 MB; 0 when malloc was left as it was), and
   * why: outputs are freed by V8's garbage collector tens of MB at a time, and fresh pages cost
   * more than the kernels that fill them (README, "Memory allocator").
   */
  freedPagesKept: number;
  freedPagesPolicy: string;
}

const ISAS: readonly Isa[] = ['scalar', 'avx2', 'avx512vnni', 'neon', 'neondot'];

/** The levels of the architecture this process runs on; the others can never be selected. */
function nativeIsas(): readonly Isa[] {
  if (process.arch === 'x64' || process.arch === 'ia32') return ['scalar', 'avx2', 'avx512vnni'];
  if (process.arch === 'arm64') return ['scalar', 'neon', 'neondot'];
  return ['scalar'];
}

const version: string = (JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;

// A bad QKERNELS_MAX_ISA, QKERNELS_QUANTIZED_ENGINE or QKERNELS_KEEP_FREED_MB does not stop
// loading (the best level, fbgemm's numerics, the default keep are used) but must not pass
// silently either: warn once per process and variable, however many times the module is loaded.
{
  const native = addon.backendInfo();
  const flags = process as unknown as Record<symbol, boolean>;
  const envErrors: Array<[string, string]> = [
    [native.envMaxIsaError, 'QKERNELS_MAX_ISA'],
    [native.envQuantizedEngineError, 'QKERNELS_QUANTIZED_ENGINE'],
    [native.envKeepFreedError, 'QKERNELS_KEEP_FREED_MB'],
  ];
  for (const [envError, code] of envErrors) {
    const warnedKey = Symbol.for(code === 'QKERNELS_MAX_ISA' ? 'qkernels.maxIsaWarningEmitted' : `qkernels.${code}.warned`);
    if (envError && !flags[warnedKey]) {
      flags[warnedKey] = true;
      process.emitWarning(envError, { type: 'QkernelsWarning', code });
    }
  }
}

/** What the kernels run on. */
function info(): BackendInfo {
  const native = addon.backendInfo();
  return {
    isa: native.isa as Isa,
    bestIsa: native.bestIsa as Isa,
    features: native.features,
    quantizedEngine: native.quantizedEngine as QuantizedEngine,
    threads: native.threads,
    version,
    binary: addonPath,
    freedPagesKept: native.freedPagesKept,
    freedPagesPolicy: native.freedPagesPolicy,
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
 * Selects whose quantized arithmetic the ops reproduce, as `torch.backends.quantized.engine = …`
 * does in PyTorch: 'fbgemm' (the default, and 'x86'), 'onednn' or 'qnnpack', on any CPU.
 * Process-wide; an op reads it when called (an async op keeps the engine of its call).
 * Returns the engine now in force.
 */
function setQuantizedEngine(engine: QuantizedEngine): QuantizedEngine {
  return addon.setQuantizedEngine(validate.oneOf(engine, 'engine', ENGINES)) as QuantizedEngine;
}

/** The quantized engine in force: `torch.backends.quantized.engine`. */
function quantizedEngine(): QuantizedEngine {
  return addon.quantizedEngine() as QuantizedEngine;
}

/**
 * The backend: `info()`, `setNumThreads(n)`, `getNumThreads()`, `setMaxIsa(isa)`, `getIsa()`,
 * `setQuantizedEngine(engine)`, `quantizedEngine()`.
 * The ISA cap, the engine and the thread count are process-wide (shared by all worker_threads).
 *
 * @example
 * backend.info();           // { isa: 'avx2', bestIsa: 'avx2', features: [...], threads: 1, version: '0.1.0' }
 * backend.setMaxIsa('scalar');
 * backend.setQuantizedEngine('qnnpack');  // PyTorch's numbers under torch.backends.quantized.engine = 'qnnpack'
 */
export const backend = Object.freeze({
  info,
  setNumThreads,
  getNumThreads,
  setMaxIsa,
  getIsa,
  setQuantizedEngine,
  quantizedEngine,
});
