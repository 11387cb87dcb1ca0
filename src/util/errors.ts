// Errors a user can cause are values with a kind (`code`), a message naming the
// thing and where it is, and a hint saying what to do. The CLI maps codes to
// exit statuses in one table (cli/exit-codes.ts) and is the only place that exits.

export type ErrorCode =
  | 'SPEC' // bad stack file: YAML, schema, interpolation, references (exit 2)
  | 'USAGE' // bad command line (exit 2)
  | 'NOT_FOUND' // image, container, service, network that does not exist (exit 3)
  | 'CONFLICT' // port in use, subnet overlap, name taken, lock held (exit 4)
  | 'IMAGE' // pull/build/load failure (exit 5)
  | 'RUNTIME' // container could not be created/started (exit 6)
  | 'NETWORK' // network setup failure (exit 7)
  | 'HOST' // missing kernel feature, package or permission (exit 8)
  | 'REMOTE' // a cluster or registry that is unreachable, refuses, or is not in the state asked for (exit 9)
  | 'INTERNAL'; // a bug (exit 70)

export interface ErrorLocation {
  file?: string;
  line?: number;
  column?: number;
  /** Dotted path of the object, e.g. `services.web.ports[1]`. */
  path?: string;
}

export class TsstackError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly location?: ErrorLocation;
  /** Further problems found in the same pass (all reported together). */
  readonly details: string[];
  /** Warnings met before the error (an unset variable is often its cause): printed before it. */
  readonly warnings: string[] = [];

  constructor(code: ErrorCode, message: string, opts: { hint?: string; location?: ErrorLocation; details?: string[]; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'TsstackError';
    this.code = code;
    this.hint = opts.hint;
    this.location = opts.location;
    this.details = opts.details ?? [];
  }
}

export function isTsstackError(e: unknown): e is TsstackError {
  return e instanceof TsstackError;
}

/** `file:line: ` prefix for messages, empty when unknown. */
export function formatLocation(loc?: ErrorLocation): string {
  if (!loc) return '';
  let s = loc.file ?? '';
  if (loc.line !== undefined) s += `:${loc.line}`;
  if (loc.line !== undefined && loc.column !== undefined) s += `:${loc.column}`;
  if (loc.path) s += s ? ` (${loc.path})` : loc.path;
  return s ? `${s}: ` : '';
}
