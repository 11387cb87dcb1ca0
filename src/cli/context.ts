// What every command gets: global options resolved, and lazy access to the
// stack model, the project name, the engine and the project lock. Heavy modules
// (stack/, engine/) are imported only when a command asks for them.

import { resolve } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import type { Engine } from '../engine/api.js';
import type { StackModel } from '../model/types.js';
import { TsstackError } from '../util/errors.js';
import { BUNDLE_FILE } from './code-identity.js';
import { phase } from '../util/phase-trace.js';
import { codeCacheRun } from './code-cache-run.js';
import { rawWriter, stdWriter } from '../util/std-write.js';
import { isTerminal } from '../util/terminal.js';
import { stdinKind, type StdinKind } from '../util/stdin-kind.js';

export interface GlobalOptions {
  file?: string[];
  projectName?: string;
  profile?: string[];
  envFile?: string[];
  projectDirectory?: string;
  root?: string;
  runtime?: string;
  debug?: boolean;
}

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Bytes as they are (a container's output in `run`) to standard output (1) or error (2), throwing EPIPE when the reader went away; else out/err's text. */
  write?: (fd: 1 | 2, bytes: Buffer) => Promise<void> | void;
  /** Standard output is a terminal (progress and colours). */
  tty: boolean;
  /** What standard input is, for `run` and `exec`, which pass it on; absent (tests in one process): 'none'. */
  stdin?: () => StdinKind;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Tests inject a fake engine here; the real one is opened otherwise. */
  openEngine?: (paths: { root: string; runRoot: string; runtime?: string }) => Promise<Engine>;
  /** Tests inject a model loader here; stack/'s loadStack otherwise. */
  loadStack?: (opts: Record<string, unknown>) => Promise<StackModel>;
}

const stdout = stdWriter(1), stderr = stdWriter(2);
// a container's output (`run`): the command, not the writer, decides what a reader gone away means
const rawStdout = rawWriter(1), rawStderr = rawWriter(2);
export const defaultIo = (): Io => ({
  out: (s) => stdout(s.endsWith('\n') ? s : s + '\n'),
  err: (s) => stderr(s.endsWith('\n') ? s : s + '\n'),
  write: (fd, bytes) => (fd === 1 ? rawStdout : rawStderr)(bytes),
  tty: isTerminal(1),
  stdin: () => stdinKind(0),
  env: process.env,
  cwd: process.cwd(),
});

let interruptHook: (() => void) | undefined;
/** Let a long-running command handle Ctrl-C itself (attached `up`, `logs -f`); undefined restores the default. */
export function onInterrupt(f: (() => void) | undefined): void {
  interruptHook = f;
}
/** Resolves at the first Ctrl-C or SIGTERM; a second Ctrl-C is then the default one (exit at once). */
export function untilInterrupted(): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      process.removeListener('SIGTERM', done);
      onInterrupt(undefined);
      resolve();
    };
    onInterrupt(done);
    process.once('SIGTERM', done);
  });
}
/**
 * A signal for the changes a command makes: the first Ctrl-C aborts it — the steps under way
 * finish, none starts after, so nothing is left half made — and says so; a second one is the
 * default (exit at once: the next command finishes or undoes what was under way). `dispose`
 * gives Ctrl-C back to whoever had it.
 */
export function interruptibleChanges(say: (line: string) => void): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const hook = () => {
    onInterrupt(undefined);
    say('interrupted: finishing the steps under way, starting no more (Ctrl-C again to quit at once)');
    ac.abort();
  };
  onInterrupt(hook);
  return { signal: ac.signal, dispose: () => { if (interruptHook === hook) onInterrupt(undefined); } };
}

export function interrupted(): boolean {
  if (!interruptHook) return false;
  interruptHook();
  return true;
}

const STACK_FILES = ['stack.yaml', 'stack.yml', 'compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];


/** Whether a `.env` chooses the stack files (COMPOSE_FILE / TSSTACK_FILE), as Compose reads it before choosing them. */
function dotenvNamesFiles(path: string): boolean {
  try {
    return /^\s*(export\s+)?(COMPOSE|TSSTACK)_FILE\s*=/m.test(readFileSync(path, 'utf8'));
  } catch {
    return false;
  }
}

export class Context {
  private model?: StackModel;
  private engine?: Engine;

  constructor(readonly g: GlobalOptions, readonly io: Io) {}

  get debug(): boolean {
    return !!this.g.debug;
  }

  /** True when a stack file is named or one of the default names exists. */
  hasStackFile(): boolean {
    if (this.g.file?.length) return true;
    if (this.io.env.TSSTACK_FILE || this.io.env.COMPOSE_FILE) return true;
    const dir = this.g.projectDirectory ? resolve(this.io.cwd, this.g.projectDirectory) : this.io.cwd;
    return STACK_FILES.some((f) => existsSync(resolve(dir, f))) || dotenvNamesFiles(resolve(dir, '.env'));
  }

  async loadModel(): Promise<StackModel> {
    if (this.model) return this.model;
    const fromStdin = this.g.file?.includes('-');
    // the cache lives under the root: used only when no other user could have written it (host-dirs.ts)
    const cacheInput = this.io.loadStack || this.io.env.TSSTACK_NO_CACHE || fromStdin || !(await this.rootsSafe()) ? undefined : await this.modelCacheInput();
    if (cacheInput) {
      const { cachedModel } = await import('./model-cache.js');
      const hit = cachedModel(cacheInput);
      phase(`model: cache ${hit ? 'hit' : 'miss'}`);
      if (hit) return (this.model = hit);
    }
    codeCacheRun().parsed = true;
    const loadStack = this.io.loadStack ?? (await import('../stack/load.js')).loadStack;
    const envFiles = this.g.envFile;
    const options = {
      files: this.g.file?.length ? this.g.file.map((f) => (f === '-' ? f : resolve(this.io.cwd, f))) : undefined,
      projectName: this.g.projectName ?? this.io.env.TSSTACK_PROJECT_NAME ?? undefined,
      projectDir: this.g.projectDirectory ? resolve(this.io.cwd, this.g.projectDirectory) : undefined,
      envFiles: envFiles?.map((f) => resolve(this.io.cwd, f)),
      profiles: this.g.profile?.length ? this.g.profile : undefined,
    };
    this.model = await loadStack({ ...options, env: { ...this.io.env }, cwd: this.io.cwd });
    if (cacheInput) {
      const { storeModel } = await import('./model-cache.js');
      storeModel(cacheInput, this.model, { explicitFiles: !!options.files || !!this.io.env.COMPOSE_FILE, explicitEnvFiles: !!options.envFiles, startDir: options.projectDir ?? this.io.cwd });
    }
    return this.model;
  }

  /**
   * The model with the profiles of the services named on the command line
   * enabled (compose: naming a service activates its profiles).
   */
  async loadModelFor(services: string[]): Promise<StackModel> {
    const m = await this.loadModel();
    const missing = services.filter((s) => !(s in m.services));
    if (!missing.length || !m.allProfiles.length) return m;
    const all = await new Context({ ...this.g, profile: ['*'] }, this.io).loadModel();
    const extra = new Set<string>();
    for (const s of missing) for (const p of all.services[s]?.profiles ?? []) extra.add(p);
    if (!extra.size) return m;
    this.model = undefined;
    this.g.profile = [...new Set([...(this.g.profile ?? []), ...extra])];
    return this.loadModel();
  }

  /** What the model cache keys on: global options, cwd, environment, and the loader's build. */
  private async modelCacheInput(): Promise<import('./model-cache.js').CacheInput> {
    const { readdirSync } = await import('node:fs');
    const { fileURLToPath } = await import('node:url');
    let codeFiles: string[] = [];
    if (BUNDLE_FILE) codeFiles = [BUNDLE_FILE]; // code-identity.ts
    else try {
      // the loader and the model's parsers and formatters it uses (src/model)
      for (const sub of ['../stack/', '../model/']) {
        const dir = fileURLToPath(new URL(sub, import.meta.url));
        codeFiles.push(...readdirSync(dir).filter((f) => f.endsWith('.js')).sort().map((f) => resolve(dir, f)));
      }
    } catch { /* no loader build: the load fails anyway */ }
    return {
      root: this.paths.root,
      options: { file: this.g.file, projectName: this.g.projectName, profile: this.g.profile, envFile: this.g.envFile, projectDirectory: this.g.projectDirectory },
      env: this.io.env,
      cwd: this.io.cwd,
      codeFiles,
    };
  }

  /** The model when a stack file exists, else undefined (commands that can work from the project name alone). */
  async maybeModel(): Promise<StackModel | undefined> {
    if (!this.hasStackFile()) return undefined;
    return this.loadModel();
  }

  /** -p, TSSTACK_PROJECT_NAME, the stack model's name, else the directory's name. */
  async projectName(): Promise<string> {
    // the one rule (the loader's too), loaded when a name is needed: not on the no-op `up` path
    const { projectNameFrom } = await import('../model/project-name.js');
    const explicit = projectNameFrom({ option: this.g.projectName, lookup: (k) => this.io.env[k] || undefined });
    if (explicit?.raw) return explicit.name;
    if (this.model) return this.model.name;
    const quick = await this.quickProjectName().catch(() => undefined);
    if (quick) return quick;
    const m = await this.maybeModel();
    if (m) return m.name;
    const dir = this.g.projectDirectory ? resolve(this.io.cwd, this.g.projectDirectory) : this.io.cwd;
    const name = projectNameFrom({ lookup: () => undefined, projectDir: dir })!.name;
    // `/`, or a directory whose name has no letter or digit, names no project
    if (!name) throw new TsstackError('USAGE', `no stack file in ${dir}, and its name makes no project name`, { hint: 'run the command in the stack\'s directory, or give -f FILE or -p NAME' });
    return name;
  }

  /**
   * The project name without loading the whole stack (no schema validation),
   * for commands that only need the name (`ps`, `logs`, `down`…): the last
   * file's literal `name:`, else the project directory's name. Undefined when
   * that is not certain (interpolated name, a .env that may set it).
   */
  private async quickProjectName(): Promise<string | undefined> {
    const { readFileSync } = await import('node:fs');
    const { dirname } = await import('node:path');
    const { parseYaml } = await import('../stack/yaml-read.js');
    const { projectNameFrom } = await import('../model/project-name.js');
    const dir = this.g.projectDirectory ? resolve(this.io.cwd, this.g.projectDirectory) : undefined;
    if (this.g.file?.includes('-')) return undefined; // standard input is read once, by the loader
    let files = this.g.file?.map((f) => resolve(this.io.cwd, f));
    if (!files?.length) {
      if (this.io.env.TSSTACK_FILE || this.io.env.COMPOSE_FILE) return undefined;
      if (existsSync(resolve(dir ?? this.io.cwd, '.env'))) return undefined; // it may choose the files (COMPOSE_FILE)
      files = [];
      for (let d = dir ?? this.io.cwd; ; d = dirname(d)) {
        const f = STACK_FILES.map((n) => resolve(d, n)).find((x) => existsSync(x));
        if (f) {
          files = [f];
          break;
        }
        if (dirname(d) === d) return undefined;
      }
    }
    let name: unknown;
    for (const f of files) {
      const pf = parseYaml(f, readFileSync(f, 'utf8'));
      if (pf.docs) return undefined; // several documents: the loader merges them
      const doc = pf.value as { name?: unknown } | null;
      if (doc && typeof doc === 'object' && 'name' in doc) name = doc.name;
    }
    if (typeof name === 'string' && name.includes('$')) return undefined;
    const projectDir = dir ?? dirname(files[0]);
    // a .env may name the project (COMPOSE_PROJECT_NAME wins over `name:`), as may --env-file's files
    if (this.g.envFile?.length || existsSync(resolve(projectDir, '.env'))) return undefined;
    // -p and the environment were looked at first (projectName()): the file's name, else the directory's
    return projectNameFrom({ lookup: () => undefined, fileName: typeof name === 'string' && name !== '' ? name : undefined, projectDir })!.name || undefined;
  }

  get paths(): { root: string; runRoot: string } {
    return {
      root: this.g.root ?? this.io.env.TSSTACK_ROOT ?? '/var/lib/tsstack',
      runRoot: this.io.env.TSSTACK_RUN_ROOT ?? '/run/tsstack',
    };
  }

  async openEngine(): Promise<Engine> {
    if (this.engine) return this.engine;
    codeCacheRun().engine = true;
    const runtime = this.g.runtime ?? this.io.env.TSSTACK_RUNTIME;
    if (this.io.openEngine) this.engine = await this.io.openEngine({ ...this.paths, runtime });
    else {
      const { openEngine } = await import('../engine/engine.js');
      this.engine = await openEngine({ ...this.paths, runtime, warn: (m) => this.io.err(`warning: ${m}`) });
    }
    return this.engine;
  }

  private safe?: boolean;
  /** The root exists and no other user could have written in it (host-dirs.ts): its caches may be trusted. */
  async rootsSafe(): Promise<boolean> {
    this.safe ??= (await import('../engine/host-dirs.js')).rootIsSafe(this.paths.root);
    return this.safe;
  }

  /**
   * Runs `f` holding the project's lock; says once who holds it when the wait is
   * not short, and gives up (CONFLICT, exit 4) after TSSTACK_LOCK_TIMEOUT seconds if set.
   */
  async locked<T>(project: string, f: () => Promise<T>): Promise<T> {
    const { withLock, describeHolder } = await import('../engine/store/lock.js');
    const raw = this.io.env.TSSTACK_LOCK_TIMEOUT;
    const secs = raw === undefined || raw === '' ? undefined : Number(raw);
    if (secs !== undefined && !(secs >= 0)) throw new TsstackError('USAGE', `TSSTACK_LOCK_TIMEOUT must be a number of seconds, got ${JSON.stringify(raw)}`);
    // the lock file is the first thing written below the root: make the root safe first
    if (!this.io.openEngine) (await import('../engine/host-dirs.js')).secureEngineDirs(this.paths);
    return withLock(this.paths.root, `project-${project}`, {
      label: `project ${project}`,
      timeoutMs: secs === undefined ? undefined : secs * 1000,
      onWait: (h) => this.io.err(`waiting for the lock of project ${project}, held by ${describeHolder(h)}…`),
    }, f);
  }

  async close(): Promise<void> {
    await this.engine?.close();
  }
}
