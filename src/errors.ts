/**
 * One error type for the whole tool. Each code maps to an exit code (CLI) and an HTTP status (serve),
 * so a failure reads the same everywhere. Messages name the input and the fix, in one line.
 */
export const ERROR_CODES = {
  USAGE: { exit: 2, http: 400 },
  INVALID_INPUT: { exit: 3, http: 400 },
  NOT_FOUND: { exit: 4, http: 404 },
  DECODE: { exit: 5, http: 422 },
  FEATURE_SPEC_MISMATCH: { exit: 6, http: 409 },
  STORE: { exit: 7, http: 500 },
  QUALITY_GATE: { exit: 1, http: 422 },
  UNAUTHENTICATED: { exit: 8, http: 401 },
  FORBIDDEN: { exit: 9, http: 403 },
  INTERNAL: { exit: 70, http: 500 },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class SpotmlError extends Error {
  readonly code: ErrorCode;
  /** Extra machine-readable facts (file, field, …) for --json output. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SpotmlError';
    this.code = code;
    this.details = details;
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  toJSON(): { error: { code: ErrorCode; message: string; details: Readonly<Record<string, unknown>> } } {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

/**
 * What a file system failure means for the user and what to do, by errno code (the path comes from the error);
 * anything else stays an unexpected error.
 */
const FILE_SYSTEM_ERRORS: Readonly<Record<string, { code: ErrorCode; says: (path: string) => string }>> = {
  ENOENT: { code: 'NOT_FOUND', says: (p) => `${p} does not exist: check the path` },
  EACCES: { code: 'INVALID_INPUT', says: (p) => `permission denied for ${p}: check its permissions or choose another path` },
  EPERM: { code: 'INVALID_INPUT', says: (p) => `operation not permitted on ${p}: check its permissions or choose another path` },
  EROFS: { code: 'INVALID_INPUT', says: (p) => `${p} is on a read-only file system: choose a writable path` },
  ENOSPC: { code: 'INVALID_INPUT', says: (p) => `no space left on the device writing ${p}: free some space or choose another path` },
  EDQUOT: { code: 'INVALID_INPUT', says: (p) => `disk quota exceeded writing ${p}: free some space or choose another path` },
  EISDIR: { code: 'INVALID_INPUT', says: (p) => `${p} is a folder where a file was expected: choose a file path` },
  ENOTDIR: { code: 'INVALID_INPUT', says: (p) => `part of ${p} is a file where a folder was expected: choose another path` },
  EEXIST: { code: 'INVALID_INPUT', says: (p) => `${p} already exists and is in the way (a file where a folder was expected?): choose another path` },
};

/** Wraps anything thrown into a SpotmlError, keeping SpotmlErrors as they are. */
export function asSpotmlError(err: unknown): SpotmlError {
  if (err instanceof SpotmlError) return err;
  const errno = err as NodeJS.ErrnoException;
  const known = err instanceof Error && typeof errno.code === 'string' && typeof errno.path === 'string' ? FILE_SYSTEM_ERRORS[errno.code] : undefined;
  if (known !== undefined && errno.path !== undefined) {
    return new SpotmlError(known.code, known.says(errno.path), { path: errno.path, errno: errno.code, syscall: errno.syscall }, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new SpotmlError('INTERNAL', `unexpected error: ${message} (rerun with --debug for the stack trace)`, {}, { cause: err });
}
