// LoadError, the one error the weights loader throws for a file it cannot read, naming the file, the entry and the problem.

/**
 * A weights file that cannot be loaded: not a PyTorch archive, truncated or corrupted, a
 * global outside the allowlist, a storage that does not fit its tensor. `file` is the path
 * (or '<bytes>' for a buffer), `entry` the archive member being read when known.
 */
export class LoadError extends Error {
  readonly file: string;
  readonly entry: string | undefined;

  constructor(file: string, entry: string | undefined, problem: string) {
    super(`${file}${entry === undefined ? '' : ` (${entry})`}: ${problem}`);
    this.name = 'LoadError';
    this.file = file;
    this.entry = entry;
  }
}

/** Where a problem lies, so every error of one read names the same file and entry. */
export interface Where {
  readonly file: string;
  readonly entry?: string;
}

/** The LoadError for `problem` at `where`. */
export function loadError(where: Where, problem: string): LoadError {
  return new LoadError(where.file, where.entry, problem);
}
