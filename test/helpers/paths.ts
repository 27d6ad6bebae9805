// Runs a block of exact-match tests once per dispatch path: every ISA level the CPU has, with 1 and 2 threads.
//
// Levels the CPU lacks are skipped with the reason in the block's name (never silently passed).
// A QKERNELS_MAX_ISA set for the whole jest run caps the levels tried, so CI can run one level per job.
import { backend } from '../..';

/** Dispatch levels from lowest to highest, per architecture. */
const LEVELS: Record<string, readonly string[]> = {
  x64: ['scalar', 'avx2', 'avx512vnni'],
  arm64: ['scalar', 'neon', 'neondot'],
};

export const THREAD_COUNTS = [1, 2] as const;

export interface DispatchPath {
  isa: string;
  threads: number;
}

export interface LevelPlan {
  isa: string;
  /** Why this level cannot run here, or null when it can. */
  skipReason: string | null;
}

export function levelsOfThisMachine(): readonly string[] {
  return LEVELS[process.arch] ?? ['scalar'];
}

/** Which levels run on this machine and why the others do not. */
export function planLevels(): LevelPlan[] {
  const levels = levelsOfThisMachine();
  const info = backend.info();
  const best = levels.indexOf(info.bestIsa);
  const envCap = process.env.QKERNELS_MAX_ISA;
  const cap = envCap ? levels.indexOf(envCap) : levels.length - 1;
  return levels.map((isa, index) => {
    if (best < 0) return { isa, skipReason: `backend.info().bestIsa is '${info.bestIsa}', not a ${process.arch} level` };
    if (index > best) return { isa, skipReason: `this CPU's best level is ${info.bestIsa}` };
    if (cap >= 0 && index > cap) return { isa, skipReason: `QKERNELS_MAX_ISA=${envCap} caps this run` };
    return { isa, skipReason: null };
  });
}

/** Every (level, threads) path that runs here. */
export function runnablePaths(): DispatchPath[] {
  const paths: DispatchPath[] = [];
  for (const plan of planLevels()) {
    if (plan.skipReason === null) for (const threads of THREAD_COUNTS) paths.push({ isa: plan.isa, threads });
  }
  return paths;
}

type IsaLevel = Parameters<typeof backend.setMaxIsa>[0];

/** Selects a path (checking that the backend reports it in force); returns how to restore the previous one. */
function selectPath(path: DispatchPath): () => void {
  const savedIsa = backend.getIsa();
  const savedThreads = backend.getNumThreads();
  const restore = () => {
    backend.setMaxIsa(savedIsa as IsaLevel);
    backend.setNumThreads(savedThreads);
  };
  try {
    const inForce = backend.setMaxIsa(path.isa as IsaLevel);
    if (inForce !== path.isa) throw new Error(`backend.setMaxIsa('${path.isa}') returned '${inForce}'`);
    if (backend.getIsa() !== path.isa) throw new Error(`after setMaxIsa('${path.isa}') getIsa() is '${backend.getIsa()}'`);
    backend.setNumThreads(path.threads);
    if (backend.getNumThreads() !== path.threads) throw new Error(`setNumThreads(${path.threads}) left ${backend.getNumThreads()}`);
  } catch (error) {
    restore();
    throw error;
  }
  return restore;
}

/** Runs `body` on a path, then restores the previous level and thread count even if it throws. */
export function withPath<T>(path: DispatchPath, body: () => T): T {
  const restore = selectPath(path);
  try {
    return body();
  } finally {
    restore();
  }
}

/** withPath for async work: the path stays selected until the promise settles. */
export async function withPathAsync<T>(path: DispatchPath, body: () => Promise<T>): Promise<T> {
  const restore = selectPath(path);
  try {
    return await body();
  } finally {
    restore();
  }
}

/**
 * Declares `body`'s tests once per path as `describe('<name> [isa=avx2, threads=2]')`; the path is
 * in force for the whole block. Levels this machine cannot run get a skipped block saying why.
 */
export function describeEachPath(name: string, body: (path: DispatchPath) => void): void {
  for (const plan of planLevels()) {
    if (plan.skipReason !== null) {
      describe.skip(`${name} [isa=${plan.isa}: SKIPPED, ${plan.skipReason}]`, () => body({ isa: plan.isa, threads: 1 }));
      continue;
    }
    for (const threads of THREAD_COUNTS) {
      const path = { isa: plan.isa, threads };
      describe(`${name} [isa=${plan.isa}, threads=${threads}]`, () => {
        let restore: (() => void) | null = null;
        beforeAll(() => {
          restore = selectPath(path);
        });
        afterAll(() => {
          restore?.();
        });
        body(path);
      });
    }
  }
}
