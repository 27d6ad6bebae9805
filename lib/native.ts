// Loads the compiled addon (QKERNELS_ADDON, else node-gyp-build) and fails with a message that says what to do.

import * as path from 'path';

/** The package root: dist/ (this file compiled) sits directly under it. */
export const packageRoot: string = path.resolve(__dirname, '..');

/** The storage typed array of each dtype: quint8 and quint4x2 (packed) Uint8Array, qint8 Int8Array, qint32 Int32Array. */
export type QStorage = Uint8Array | Int8Array | Int32Array;

export interface NativeBackendInfo {
  isa: string;
  bestIsa: string;
  features: string[];
  threads: number;
  /** Why QKERNELS_MAX_ISA was ignored, or '' when it was unset or valid. */
  envMaxIsaError: string;
  /** The quantized engine in force (fbgemm, x86, onednn, qnnpack). */
  quantizedEngine: string;
  /** Why QKERNELS_QUANTIZED_ENGINE was ignored, or '' when it was unset or valid. */
  envQuantizedEngineError: string;
  /** Bytes of freed heap glibc keeps for later outputs (QKERNELS_KEEP_FREED_MB), 0 when malloc was left as it was. */
  freedPagesKept: number;
  /** What was done to malloc's trim policy, and why. */
  freedPagesPolicy: string;
  /** Why QKERNELS_KEEP_FREED_MB was ignored, or '' when it was unset or valid. */
  envKeepFreedError: string;
}

/** native/addon/handoff.cc HandoffStats: counts since the env started. */
export interface HandoffStats {
  pooledBuffers: number;
  pooledBytes: number;
  donatedWaiting: number;
  taken: number;
  recycled: number;
  reused: number;
  returned: number;
  maxPoolBytes: number;
  maxPoolBuffers: number;
}

/**
 * The binding's functions (native/addon/addon.cc). dtype is the numeric code of qk::QDType:
 * quint8 0, qint8 1, qint32 2, quint4x2 3. Per-channel data is described by a ChannelLayout:
 * `outer` blocks of `channels` runs of `inner` contiguous elements.
 */
export interface NativeAddon {
  readonly interfaceVersion: number;
  backendInfo(): NativeBackendInfo;
  /** The process-wide pool of async input copies (native/src/base/snapshot-pool.h): for tests and diagnostics. */
  snapshotPoolStats(): { maxIdleBytes: number; idleBytes: number; idleBuffers: number; reused: number; allocated: number; evicted: number };
  /** Transfers the storage's ArrayBuffer (the caller's is detached) and returns a view of the same kind, offset and length over it, donated (native/addon/handoff.h). */
  donate<T extends ArrayBufferView>(storage: T): T;
  /** Transfers the storage's ArrayBuffer into this env's pool, which later outputs of the same byte length are made over. */
  recycle(storage: ArrayBufferView): void;
  /** This env's handoff state: for tests and diagnostics. */
  handoffStats(): HandoffStats;
  getIsa(): string;
  setMaxIsa(isa: string): string;
  quantizedEngine(): string;
  setQuantizedEngine(engine: string): string;
  getNumThreads(): number;
  setNumThreads(threads: number): void;
  chooseQuantizationParams(input: Float32Array, dtype: number, reduceRange: boolean): { scale: number; zeroPoint: number };

  /**
   * Quantized mean (native/addon/reduce.cc): mode 0 QNNPACK's global average (contiguous quint8
   * 4-D over dims 2, 3), 1 the integers of a contiguous input, 2 a channels-last input over its
   * spatial dims; `reduced` holds a 0/1 flag per dim of `shape`. Output contiguous, keepdim shape.
   */
  mean(x: QStorage, dtype: number, mode: number, shape: Float64Array, reduced: Float64Array, scale: number, zeroPoint: number): QStorage;
  meanAsync(x: QStorage, dtype: number, mode: number, shape: Float64Array, reduced: Float64Array, scale: number, zeroPoint: number): Promise<QStorage>;
  /**
   * Concatenation of dense rows, requantized: output row r is tensors[0]'s row r, then
   * tensors[1]'s, ... (rowElements[k] elements each, the first vectorLengths[k] of each row in
   * the vectorized formula), every value requantized from inQParams [scale, zeroPoint per
   * tensor] to (outScale, outZeroPoint).
   */
  cat(dtype: number, rows: number, rowElements: Float64Array, vectorLengths: Float64Array, inQParams: Float64Array, outScale: number, outZeroPoint: number, ...tensors: QStorage[]): QStorage;
  catAsync(dtype: number, rows: number, rowElements: Float64Array, vectorLengths: Float64Array, inQParams: Float64Array, outScale: number, outZeroPoint: number, ...tensors: QStorage[]): Promise<QStorage>;
  quantizePerTensor(input: Float32Array, scale: number, zeroPoint: number, dtype: number): QStorage;
  quantizePerTensorAsync(input: Float32Array, scale: number, zeroPoint: number, dtype: number): Promise<QStorage>;
  quantizePerChannel(input: Float32Array, outer: number, channels: number, inner: number, scales: Float64Array, zeroPoints: Int32Array, dtype: number): QStorage;
  quantizePerChannelAsync(input: Float32Array, outer: number, channels: number, inner: number, scales: Float64Array, zeroPoints: Int32Array, dtype: number): Promise<QStorage>;
  quantizePerChannelFloatQParams(input: Float32Array, outer: number, channels: number, inner: number, scales: Float32Array, zeroPoints: Float32Array, dtype: number): QStorage;
  quantizePerChannelFloatQParamsAsync(input: Float32Array, outer: number, channels: number, inner: number, scales: Float32Array, zeroPoints: Float32Array, dtype: number): Promise<QStorage>;

  dequantizePerTensor(storage: QStorage, dtype: number, numel: number, scale: number, zeroPoint: number): Float32Array;
  dequantizePerTensorAsync(storage: QStorage, dtype: number, numel: number, scale: number, zeroPoint: number): Promise<Float32Array>;
  dequantizePerChannel(storage: QStorage, dtype: number, outer: number, channels: number, inner: number, scales: Float64Array, zeroPoints: Int32Array): Float32Array;
  dequantizePerChannelAsync(storage: QStorage, dtype: number, outer: number, channels: number, inner: number, scales: Float64Array, zeroPoints: Int32Array): Promise<Float32Array>;
  scaleShiftChannels(input: Float32Array, outer: number, channels: number, inner: number, multipliers: Float32Array, offsets: Float32Array): Float32Array;
  scaleShiftChannelsAsync(input: Float32Array, outer: number, channels: number, inner: number, multipliers: Float32Array, offsets: Float32Array): Promise<Float32Array>;
  dequantizePerChannelFloatQParams(storage: QStorage, dtype: number, outer: number, channels: number, inner: number, scales: Float32Array, zeroPoints: Float32Array): Float32Array;
  dequantizePerChannelFloatQParamsAsync(storage: QStorage, dtype: number, outer: number, channels: number, inner: number, scales: Float32Array, zeroPoints: Float32Array): Promise<Float32Array>;
}

/** The `mode` of addon.mean: which of torch 1.13's quantized mean paths runs (native/src/base/params-reduce.h). */
export const enum MeanMode {
  QnnpackGlobal = 0,
  Integers = 1,
  ChannelsLastFloat = 2,
}

/** The binding version lib/ was written against; addon.cc's kInterfaceVersion. */
const INTERFACE_VERSION = 8;

/** Platforms the release workflow publishes prebuilds for. */
const PREBUILT_PLATFORMS = ['linux-x64 (glibc, musl)', 'linux-arm64 (glibc, musl)', 'darwin-arm64', 'win32-x64'];

function libcDescription(): string {
  if (process.platform !== 'linux') return 'n/a';
  try {
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
    const glibc = report?.header?.glibcVersionRuntime;
    return glibc ? `glibc ${glibc}` : 'musl';
  } catch {
    return 'unknown';
  }
}

interface LoadAttempt {
  searched: string;
  error: unknown;
}

function loadFailure(attempt: LoadAttempt): Error {
  const cause = attempt.error instanceof Error ? attempt.error : new Error(String(attempt.error));
  const fromEnv = process.env.QKERNELS_ADDON;
  const lines = [
    `qkernels: could not load the native addon for ${process.platform}-${process.arch} ` +
      `(libc: ${libcDescription()}), Node.js ${process.version} (ABI ${process.versions.modules}, N-API ${process.versions.napi}).`,
    `Searched: ${attempt.searched}`,
    `Cause: ${cause.message.split('\n')[0]}`,
    'What to do:',
  ];
  if (fromEnv) {
    lines.push(
      `- QKERNELS_ADDON is set to ${fromEnv}: point it at a built qkernels.node ` +
        '(e.g. build-cmake/Release/qkernels.node after `npx cmake-js build --out build-cmake`), or unset it.',
    );
  } else {
    lines.push(
      '- Build from source: install a C++17 compiler, make and Python 3 ' +
        '(Debian/Ubuntu: `apt-get install build-essential python3`; macOS: `xcode-select --install`; ' +
        'Windows: Visual Studio Build Tools with "Desktop development with C++"), then run `npm rebuild qkernels`.',
      `- Or use a platform with prebuilt binaries: ${PREBUILT_PLATFORMS.join(', ')}, on Node.js >= 18.17.`,
    );
    if (process.env.PREBUILDS_ONLY) {
      lines.push('- PREBUILDS_ONLY is set, so local builds in build/ were not considered; unset it to use them.');
    }
  }
  const error = new Error(lines.join('\n')) as Error & { code: string; cause: unknown };
  error.code = 'QKERNELS_LOAD_FAILED';
  error.cause = cause;
  return error;
}

function loadAddon(): { addon: NativeAddon; file: string } {
  const fromEnv = process.env.QKERNELS_ADDON;
  let attempt: LoadAttempt;
  let loaded: unknown;
  let file: string;
  try {
    if (fromEnv) {
      file = path.resolve(fromEnv);
      attempt = { searched: `${file} (from QKERNELS_ADDON)`, error: undefined };
      loaded = require(file);
    } else {
      attempt = {
        searched: `${path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`)}` +
          (process.env.PREBUILDS_ONLY ? '' : `, ${path.join(packageRoot, 'build', 'Release')}, ${path.join(packageRoot, 'build', 'Debug')}`) +
          ' (node-gyp-build)',
        error: undefined,
      };
      const nodeGypBuild = require('node-gyp-build') as { resolve(root: string): string };
      file = nodeGypBuild.resolve(packageRoot);
      loaded = require(file);
    }
  } catch (error) {
    throw loadFailure({ searched: attempt!.searched, error });
  }
  const addon = loaded as Partial<NativeAddon>;
  if (addon.interfaceVersion !== INTERFACE_VERSION) {
    throw loadFailure({
      searched: attempt.searched,
      error: new Error(
        `the addon found has binding interface ${String(addon.interfaceVersion)} but this qkernels needs ${INTERFACE_VERSION}` +
          ' (a stale build: rebuild it)',
      ),
    });
  }
  return { addon: addon as NativeAddon, file: file! };
}

const loadedAddon = loadAddon();

/** The addon, loaded once per JS environment (each worker_thread loads its own instance). */
export const addon: NativeAddon = loadedAddon.addon;

/** The absolute path of the .node file that was loaded (a prebuild, build/Release, or QKERNELS_ADDON). */
export const addonPath: string = loadedAddon.file;
