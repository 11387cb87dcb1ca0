// Shared shapes of the Kubernetes renderer: the objects it emits, the warnings
// it reports, and the context each mapping module gets (no IO: file contents
// come in through `readFile`, locations through `locate`).

import type { StackModel } from '../../model/types.js';
import { TsstackError } from '../../util/errors.js';

export interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** One Kubernetes object; every field beyond these is the kind's own. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  [field: string]: unknown;
}

/** A stack key the render could not carry faithfully. */
export interface RenderWarning {
  file?: string;
  line?: number;
  /** Dotted path of the key, e.g. `services.web.ulimits`. */
  path: string;
  message: string;
}

export type Locate = (path: readonly (string | number)[]) => { file?: string; line?: number };

export interface RenderOptions {
  /** metadata.namespace of every object (absent: none, kubectl's current one applies). */
  namespace?: string;
  /** Contents of secret/config files (absolute path → bytes); undefined when unreadable. */
  readFile?: (path: string) => Buffer | undefined;
  /** Where a stack key was written (file and line), for warnings and errors. */
  locate?: Locate;
}

export class RenderCtx {
  readonly warnings: RenderWarning[] = [];
  constructor(readonly model: StackModel, readonly opts: RenderOptions) {}

  where(path: readonly (string | number)[]): { file?: string; line?: number } {
    return this.opts.locate?.(path) ?? {};
  }

  warn(path: readonly (string | number)[], message: string): void {
    this.warnings.push({ ...this.where(path), path: dotted(path), message });
  }

  error(path: readonly (string | number)[], message: string, hint?: string): TsstackError {
    return new TsstackError('SPEC', message, { location: { ...this.where(path), path: dotted(path) }, hint });
  }
}

export function dotted(path: readonly (string | number)[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${p}` : p;
  return s;
}
