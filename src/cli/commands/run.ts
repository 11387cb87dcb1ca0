// run: a one-off container of a service. Its own module (not lifecycle.ts) so that `run`
// loads only what it uses: the planner (reconcile/up.js) only when a dependency is to be
// started or a network or volume of the service is missing.

import { randomBytes } from '../../util/digest.js';
import type { Engine } from '../../engine/api.js';
import type { DesiredState } from '../../reconcile/desired.js';
import { LABEL } from '../../engine/api.js';
import { TsstackError } from '../../util/errors.js';
import { onInterrupt, type Context } from '../context.js';
import { recoverFirst } from '../recover-first.js';
import { phase } from '../../util/phase-trace.js';

export interface RunFlags {
  rm?: boolean;
  detach?: boolean;
  env?: string[];
  user?: string;
  workdir?: string;
  TTY?: boolean;
  tty?: boolean;
  interactive?: boolean;
  entrypoint?: string;
  name?: string;
  deps?: boolean;
  publish?: string[];
  servicePorts?: boolean;
  /** The service's name and network aliases for the one-off container too (Compose's --use-aliases). */
  useAliases?: boolean;
}

/** A one-off container of a service (label tsstack.oneoff=True), after starting its dependencies. */
export async function runRun(ctx: Context, service: string, command: string[], o: RunFlags): Promise<number> {
  const model = await ctx.loadModel();
  phase('run: model');
  const svc = model.services[service];
  if (!svc) throw new TsstackError('NOT_FOUND', `no such service: ${service}`, { hint: `services: ${Object.keys(model.services).sort().join(', ')}` });
  // As Compose: a pty by default when stdin is a terminal (-T: never), and stdin passed on unless
  // --no-interactive (Compose's -i is on by default) when it can carry input: a terminal, a pipe, a file.
  // Then the container runs in the foreground on this process's stdio (no monitor, no log). A stdin that
  // is /dev/null or closed has nothing to pass (the container's is /dev/null either way): the container
  // is started with its monitor and its log followed.
  const stdin = ctx.io.stdin?.() ?? 'none';
  const stdinTty = stdin === 'terminal';
  if (o.tty && o.TTY !== false && !stdinTty) {
    throw new TsstackError('USAGE', 'run -t: the input device is not a terminal', { hint: 'drop -t when stdin is a pipe or a file: it is passed on all the same, without a pty' });
  }
  const ptty = o.TTY !== false && stdinTty && !o.detach;
  const attached = !o.detach && (ptty || (o.interactive ?? stdin !== 'none'));
  const engine = await ctx.openEngine();
  phase('run: engine open');
  const { containerName, createSpec, desiredState, projectLabels } = await import('../../reconcile/desired.js');
  const { volumesFromEntry } = await import('../../model/format.js');
  const { splitShellWords } = await import('../../stack/shellwords.js').catch(() => ({ splitShellWords: (s: string) => s.split(/\s+/).filter(Boolean) }));
  const { projectDir } = await import('../../engine/engine.js');
  const { implicitDependencies } = await import('../../reconcile/desired.js');
  const deps = Object.keys(implicitDependencies(svc));
  const filesDir = projectDir(ctx.paths.root, model.name);
  await ctx.locked(model.name, async () => {
    await recoverFirst(ctx, engine, model.name);
    if (deps.length && o.deps !== false) {
      const { up } = await import('../../reconcile/up.js');
      const r = await up(engine, model, { services: deps, filesDir, env: ctx.io.env, labels: projectLabels(model), onEvent: (e) => { if (e.state === 'failed') ctx.io.err(`${e.resource}: ${e.message}`); } });
      if (r.result.failed.length) throw new TsstackError('RUNTIME', `dependencies of ${service} failed to start`, { details: r.result.failed.map((f) => `${f.resource}: ${f.message}`) });
    } else {
      // Networks and volumes must exist even without dependencies. When they all do (every run
      // after the first), the planner, which would find nothing to create, is not even loaded.
      const alone = { ...model, services: { [service]: { ...svc, depends_on: {} } } };
      if (await infraExists(engine, desiredState(alone, {}, { filesDir }))) return;
      const { makePlan } = await import('../../reconcile/up.js');
      const { plan } = await makePlan(engine, alone, { services: [service], filesDir });
      for (const a of plan.actions) {
        if (a.type === 'create-network') await engine.networks.create(a.network!.spec);
        if (a.type === 'create-volume') await engine.volumes.create(a.volume!.name, a.volume!.labels);
      }
    }
  });
  phase('run: recovered, network there');
  const ref = svc.image ?? `${model.name}-${service}`;
  if (svc.build && !(await engine.images.inspect(ref))) {
    const { runBuild } = await import('./images.js');
    const code = await runBuild(ctx, [service], { quiet: true });
    if (code !== 0) return code;
  }
  const image = await engine.images.ensure(ref, 'missing', (l) => ctx.io.err(l));
  const env: Record<string, string | null> = { ...svc.environment };
  const lookup = await projectLookup(ctx, model.workingDir);
  for (const e of o.env ?? []) {
    const i = e.indexOf('=');
    if (i > 0) env[e.slice(0, i)] = e.slice(i + 1);
    else env[e] = lookup(e) ?? null;
  }
  const runSvc = {
    ...svc,
    environment: env,
    command: command.length ? command : svc.command,
    entrypoint: o.entrypoint !== undefined ? splitShellWords(o.entrypoint) : svc.entrypoint,
    user: o.user ?? svc.user,
    working_dir: o.workdir ?? svc.working_dir,
    ports: o.servicePorts ? svc.ports : [],
    container_name: o.name ?? `${model.name}-${service}-run-${randomBytes(4).toString('hex')}`,
    restart: 'no' as const,
    scale: 1,
    depends_on: {},
    tty: attached ? ptty : o.TTY === false ? false : svc.tty,
    stdin_open: attached || svc.stdin_open,
    // the run container is planned alone: a service it borrows volumes from becomes that service's first
    // container by name (its container_name when set), as the full plan would resolve it
    volumes_from: svc.volumes_from?.map((r) => {
      if (r.kind !== 'service' || !model.services[r.name]) return r;
      return volumesFromEntry({ kind: 'container', name: containerName(model.name, r.name, 1, model.services[r.name]) }, r.readOnly);
    }),
  };
  const d = desiredState({ ...model, services: { [service]: runSvc } }, { [runSvc.image ?? `${model.name}-${service}`]: image }, { filesDir, env: ctx.io.env });
  await engine.host.writeGeneratedFiles(d.files);
  const spec = createSpec(model.name, d.services[service].containers[0], d.services[service], projectLabels(model));
  spec.labels[LABEL.oneoff] = 'True';
  // As Compose: a one-off container answers only to its own name, unless --use-aliases; with the service's
  // name and aliases it would also get a share of the lookups meant for the service's own containers
  if (!o.useAliases) {
    spec.serviceNames = false;
    for (const ep of spec.endpoints) ep.aliases = [];
  }
  if (o.rm && !o.detach) spec.ephemeral = true; // removed below, whatever happens
  if (!attached && !o.detach) {
    // The output reaches this process through the container's log, which must then keep all of it: not
    // rotated while it runs (rotation drops the oldest file, maybe before it was read) and kept even
    // where the service says `logging: none` (Docker's attach needs no log; ours is the way through)
    spec.logDriver = 'json-file';
    spec.logMaxSize = 0;
    delete spec.logMaxFiles;
  }
  phase('run: specified');
  const c = await engine.containers.create(spec, { startSoon: true });
  phase('run: created');
  try {
    if (attached) {
      return await engine.containers.runAttached(c.id);
    }
    await engine.containers.start(c.id);
    phase('run: started');
    if (o.detach) {
      ctx.io.out(c.name);
      return 0;
    }
    // Its output byte for byte, each stream to ours (a dump piped to a file must be the dump); once the
    // container has exited, the follow reads what is left at once instead of after its batching pause,
    // and all of it is written before the command ends
    const finishing = new AbortController();
    const write = ctx.io.write ?? ((fd: 1 | 2, b: Buffer) => (fd === 1 ? ctx.io.out : ctx.io.err)(b.toString()));
    // Ctrl-C and SIGTERM go to the container, as `docker run` and Compose's `run` pass them on: it ends as
    // it would, its output is written and --rm removes it (this process ending instead left it running,
    // unseen and kept). A second one kills it: a pid 1 without a handler ignores SIGINT.
    let signals = 0;
    const forward = (sig: 'SIGINT' | 'SIGTERM' | 'SIGPIPE') => { engine.containers.kill(c.id, signals++ ? 'SIGKILL' : sig).catch(() => { /* ended meanwhile */ }); };
    const copied = (async () => {
      try {
        for await (const chunk of engine.containers.output(c.id, { follow: true, finish: finishing.signal })) await write(chunk.stream === 'stderr' ? 2 : 1, chunk.bytes);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EPIPE') throw e;
        // the reader went away (`run … | head`): the container goes as a program in a pipe would, by SIGPIPE
        // (killed 300 ms later if its pid 1 ignores it, as one without a handler does), and is removed; until now this process ended
        // and left it running
        forward('SIGPIPE');
        setTimeout(() => forward('SIGPIPE'), 300).unref();
      }
    })();
    const onTerm = () => forward('SIGTERM');
    onInterrupt(() => forward('SIGINT'));
    process.on('SIGTERM', onTerm);
    let code: number;
    try {
      code = await engine.containers.wait(c.id);
    } finally {
      onInterrupt(undefined);
      process.removeListener('SIGTERM', onTerm);
    }
    phase('run: exited');
    finishing.abort();
    await copied.catch((e: unknown) => ctx.io.err(`${c.name}: output: ${e instanceof Error ? e.message : String(e)}`));
    return code;
  } finally {
    if (o.rm && !o.detach) await removeQuietly(engine, c.id);
    phase('run: removed');
  }
}

/**
 * Whether every network and volume the planner would create for the run container exists
 * already: the networks its container joins, and the stack's named volumes (diff.ts creates
 * those even when unused, so a missing one sends the run through the planner as before).
 */
async function infraExists(engine: Engine, d: DesiredState): Promise<boolean> {
  const used = new Set(Object.values(d.services).flatMap((s) => s.containers.flatMap((c) => Object.keys(c.config.networks))));
  for (const n of d.networks) if (used.has(n.spec.name) && !(await engine.networks.inspect(n.spec.name))) return false;
  for (const v of d.volumes) if (!v.external && !(await engine.volumes.inspect(v.name))) return false;
  return true;
}

/** `-e KEY` without a value: the shell's value, else the project's env files' (`--env-file`, else `.env`). */
async function projectLookup(ctx: Context, workingDir: string): Promise<(k: string) => string | undefined> {
  const { readOr } = await import('../../util/read-or.js');
  const { resolve } = await import('node:path');
  const files = ctx.g.envFile?.length ? ctx.g.envFile.map((f) => resolve(ctx.io.cwd, f)) : [resolve(workingDir, '.env')];
  const fromFiles: Record<string, string> = {};
  try {
    const { parseDotenv } = await import('../../stack/dotenv.js');
    for (const f of files) {
      const text = readOr(f); // (most projects have no .env)
      if (text === undefined) continue;
      Object.assign(fromFiles, parseDotenv(text, (k) => ctx.io.env[k] ?? fromFiles[k]));
    }
  } catch { /* no dotenv parser: the shell alone */ }
  return (k) => ctx.io.env[k] ?? fromFiles[k];
}

async function removeQuietly(engine: Engine, id: string): Promise<void> {
  try {
    const cur = await engine.containers.inspect(id);
    if (cur?.status === 'running') await engine.containers.stop(id, 1000);
    await engine.containers.remove(id, { force: true });
  } catch { /* best effort: `tsstack down` removes one-offs too */ }
}
