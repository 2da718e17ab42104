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

/** Wraps anything thrown into a SpotmlError, keeping SpotmlErrors as they are. */
export function asSpotmlError(err: unknown): SpotmlError {
  if (err instanceof SpotmlError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SpotmlError('INTERNAL', `unexpected error: ${message} (rerun with --debug for the stack trace)`, {}, { cause: err });
}
