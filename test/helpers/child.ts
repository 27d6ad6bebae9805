// Runs Node.js snippets in child processes (fresh environment variables, --expose-gc, ESM) and parses their JSON output.
import { spawnSync } from 'child_process';
import * as path from 'path';

/** The package root (what `require('qkernels')` resolves to in a dependent). */
export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');

export interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ChildOptions {
  env?: Record<string, string | undefined>;
  nodeArgs?: string[];
  /** `module` runs the code as ESM (`--input-type=module`). */
  inputType?: 'commonjs' | 'module';
  timeoutMs?: number;
}

/** Runs `code` with `node -e` in PACKAGE_ROOT; env values of undefined remove the variable. */
export function runNode(code: string, options: ChildOptions = {}): ChildResult {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...process.env, ...options.env })) if (value !== undefined) env[key] = value;
  const args = [...(options.nodeArgs ?? []), `--input-type=${options.inputType ?? 'commonjs'}`, '-e', code];
  const child = spawnSync(process.execPath, args, { cwd: PACKAGE_ROOT, env, encoding: 'utf8', timeout: options.timeoutMs ?? 50000 });
  if (child.error) throw child.error;
  return { status: child.status, signal: child.signal, stdout: child.stdout, stderr: child.stderr };
}

/** Runs `code`, which must exit 0 and print one JSON document last on stdout; returns it parsed. */
export function runNodeJson<T = unknown>(code: string, options: ChildOptions = {}): T {
  const result = runNode(code, options);
  if (result.status !== 0) {
    throw new Error(`child node exited with ${result.status ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
  const lines = result.stdout.trim().split('\n');
  try {
    return JSON.parse(lines[lines.length - 1]) as T;
  } catch {
    throw new Error(`child node did not print JSON last\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
}
