// tsstack's command line: parses argv (commander, docker compose conventions),
// runs one command, and is the only place that decides the exit status.
// Command modules are imported only when their command runs, so `--version`
// and `--help` start fast.

import { readFileSync } from 'node:fs';
import { Context, defaultIo, interrupted, onInterrupt, type GlobalOptions, type Io } from './context.js';
import { EXIT_HELP, EXIT_INTERRUPTED, exitCodeFor, renderError } from './errors.js';
import { TsstackError } from '../util/errors.js';
import type { DownFlags, UpFlags } from './commands/up.js';
import type { RunFlags } from './commands/run.js';
import { phase } from '../util/phase-trace.js';

export function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

function int(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new TsstackError('USAGE', `${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return n;
  };
}

function scaleOpt(v: string, prev: Record<string, number> = {}): Record<string, number> {
  const m = /^([^=]+)=(\d+)$/.exec(v);
  if (!m) throw new TsstackError('USAGE', `--scale expects SERVICE=NUM, got ${JSON.stringify(v)}`, { hint: 'for example --scale web=3' });
  return { ...prev, [m[1]]: Number(m[2]) };
}

type Handler = (ctx: Context, ...args: any[]) => Promise<number | void>;

/**
 * The global options, declared once: commander's declarations (build()) and the reading
 * of argv by commandWord() and quickUp() all come from this table. `key` is the name
 * commander gives the value in opts(); `many` options collect into arrays.
 */
const GLOBALS: { flags: string; key: keyof GlobalOptions | 'rootless'; help: string; many?: boolean }[] = [
  { flags: '-f, --file <path>', key: 'file', help: 'stack file (repeatable; later files override earlier ones)', many: true },
  { flags: '-p, --project-name <name>', key: 'projectName', help: 'project name (default: TSSTACK_PROJECT_NAME, the stack\'s name:, or the directory)' },
  { flags: '--profile <name>', key: 'profile', help: 'enable a profile (repeatable)', many: true },
  { flags: '--env-file <path>', key: 'envFile', help: 'alternate environment file (repeatable)', many: true },
  { flags: '--project-directory <dir>', key: 'projectDirectory', help: 'project directory (default: the first stack file\'s directory)' },
  { flags: '--root <dir>', key: 'root', help: 'engine state directory (default: TSSTACK_ROOT or /var/lib/tsstack)' },
  { flags: '--runtime <name>', key: 'runtime', help: 'OCI runtime: tsstack-runtime (default), runc or crun' },
  { flags: '--debug', key: 'debug', help: 'show stack traces and engine details on errors' },
  { flags: '--rootless', key: 'rootless', help: 'run as an ordinary user would, in a user namespace (the default when not root; see README "Rootless")' },
];

/** Each spelling (`-f`, `--file`) of the global options that take a value, and of those that do not. */
const spellings = (takesValue: boolean) => new Map(GLOBALS.filter((o) => o.flags.includes('<') === takesValue)
  .flatMap((o) => o.flags.split(/,? /).filter((w) => w.startsWith('-')).map((w) => [w, o] as const)));
const GLOBAL_VALUE_OPTIONS = spellings(true);
const GLOBAL_FLAGS = spellings(false);

/** The first word of argv that is not a global option or its value: the command's name, if any. */
export function commandWord(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return undefined;
    if (!a.startsWith('-') || a === '-') return a;
    if (GLOBAL_VALUE_OPTIONS.has(a)) i++;
  }
  return undefined;
}

/**
 * `[global options] up -d` and nothing else — the no-op `up` people repeat —
 * read from the GLOBALS table without loading commander, whose loading and
 * declarations cost ~18 ms of CPU (of a no-op `up`'s ~110). Anything else
 * (another flag, a service, `-fX`, a value starting with `-`) is undefined, and
 * commander parses as usual, from the same table. The flags are the ones runUp
 * reads; unset ones mean their defaults there.
 */
export function quickUp(argv: string[]): { globals: GlobalOptions; flags: UpFlags } | undefined {
  const q = quickGlobals(argv, 'up');
  if (!q || q.rest.length !== 1 || (q.rest[0] !== '-d' && q.rest[0] !== '--detach')) return undefined;
  return { globals: q.globals, flags: { detach: true, format: 'text' } };
}

/**
 * `[global options] down [-v] [--remove-orphans] [-t N]`, also without commander (the
 * same ~18 ms). Anything else (`-vt 1`, `--help`, an unknown flag) leaves it to commander.
 */
export function quickDown(argv: string[]): { globals: GlobalOptions; flags: DownFlags } | undefined {
  const q = quickGlobals(argv, 'down');
  if (!q) return undefined;
  const flags: DownFlags = {};
  for (let i = 0; i < q.rest.length; i++) {
    const a = q.rest[i];
    if (a === '-v' || a === '--volumes') flags.volumes = true;
    else if (a === '--remove-orphans') flags.removeOrphans = true;
    else if (a === '-t' || a === '--timeout' || a.startsWith('--timeout=')) {
      const v = a.startsWith('--timeout=') ? a.slice('--timeout='.length) : q.rest[++i];
      if (v === undefined || !/^\d+$/.test(v)) return undefined; // commander says what is wrong
      flags.timeout = Number(v);
    } else return undefined;
  }
  return { globals: q.globals, flags };
}

/**
 * `[global options] run [--rm] [-d] [-T] [--no-deps] [--service-ports] [--use-aliases] SERVICE [COMMAND…]`, the
 * one-off people script, also without commander. As commander's passThroughOptions, every word
 * after SERVICE is the command's. Any other flag before SERVICE leaves it to commander.
 */
export function quickRun(argv: string[]): { globals: GlobalOptions; service: string; command: string[]; flags: RunFlags } | undefined {
  const q = quickGlobals(argv, 'run');
  if (!q) return undefined;
  const flags: RunFlags = {};
  for (let i = 0; i < q.rest.length; i++) {
    const a = q.rest[i];
    if (a === '--rm') flags.rm = true;
    else if (a === '-d' || a === '--detach') flags.detach = true;
    else if (a === '-T' || a === '--no-TTY') flags.TTY = false;
    else if (a === '--no-deps') flags.deps = false;
    else if (a === '--service-ports') flags.servicePorts = true;
    else if (a === '--use-aliases') flags.useAliases = true;
    else if (a.startsWith('-')) return undefined;
    else return { globals: q.globals, service: a, command: q.rest.slice(i + 1), flags };
  }
  return undefined; // no service: commander says so
}

/** The global options before the command `word` (read from GLOBALS), and the words after it; undefined when anything else comes first. */
function quickGlobals(argv: string[], word: string): { globals: GlobalOptions; rest: string[] } | undefined {
  const g: GlobalOptions = {};
  let i = 0;
  for (; i < argv.length && argv[i] !== word; i++) {
    const a = argv[i];
    const values = g as Record<string, string | string[] | boolean>;
    const flag = GLOBAL_FLAGS.get(a);
    if (flag) {
      values[flag.key] = true;
      continue;
    }
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const name = eq > 0 ? a.slice(0, eq) : a;
    const opt = GLOBAL_VALUE_OPTIONS.get(name);
    if (!opt) return undefined;
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq < 0 && value.startsWith('-'))) return undefined;
    if (opt.many) ((values[opt.key] ??= []) as string[]).push(value);
    else values[opt.key] = value;
  }
  if (argv[i] !== word) return undefined;
  return { globals: g, rest: argv.slice(i + 1) };
}

/**
 * `[global options] build [-q] [SERVICE…]` — the rebuild that is all cached —
 * also without commander: the global options are read by quickUp, as for
 * `up -d`. Any other flag (`--no-cache`, `--push`, `--`) leaves it to commander.
 */
export function quickBuild(argv: string[]): { globals: GlobalOptions; services: string[]; quiet: boolean } | undefined {
  const i = argv.findIndex((a, k) => a === 'build' && commandWord(argv.slice(0, k)) === undefined && commandWord(argv.slice(0, k + 1)) === 'build');
  if (i < 0) return undefined;
  const rest = argv.slice(i + 1);
  const quiet = (a: string) => a === '-q' || a === '--quiet';
  if (rest.some((a) => a.startsWith('-') && !quiet(a))) return undefined;
  const globals = quickUp([...argv.slice(0, i), 'up', '-d'])?.globals;
  return globals && { globals, services: rest.filter((a) => !quiet(a)), quiet: rest.some(quiet) };
}

/** `['image', 'ls']` for commander's Command object of `image ls`. */
function commandPath(cmd: unknown): string[] {
  const out: string[] = [];
  for (let c = cmd as { name?: () => string; parent?: unknown } | null; c?.parent && c.name; c = c.parent as typeof c) out.unshift(c.name());
  return out;
}

/** Stands in for a command that is not declared: every method call is accepted and ignored. */
const SKIP: any = new Proxy(() => {}, { get: (_t, prop) => (prop === 'then' ? undefined : () => SKIP) });

export async function main(argv: string[], io: Io = defaultIo()): Promise<number> {
  phase('main');
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    io.out(`tsstack version ${version()}`);
    return 0;
  }
  // rootless: a command that uses the engine runs again inside the user's namespace, once its arguments parsed
  // (usage errors, help and stateless commands need no state: nothing is made for them)
  const rootless = !io.openEngine && (process.geteuid?.() !== 0 || argv.includes('--rootless')) && (await import('../engine/rootless/mode.js')).wantsRootless(argv, process.geteuid?.() ?? 0, process.env);
  const inNamespace = async (): Promise<number> => (await import('../engine/rootless/enter.js')).runInNamespace(argv, io).catch((e) => (io.err(renderError(e, argv.includes('--debug'))), exitCodeFor(e)));
  let code = 0;
  let ctx: Context | undefined;
  const debugWanted = argv.includes('--debug');
  const onSigint = () => {
    if (interrupted()) return;
    io.err('interrupted');
    process.exit(EXIT_INTERRUPTED);
  };

  const quick = quickUp(argv);
  const qbuild = quick ? undefined : quickBuild(argv);
  const qdown = quick || qbuild ? undefined : quickDown(argv);
  const qrun = quick || qbuild || qdown ? undefined : quickRun(argv);
  if ((quick || qbuild || qdown || qrun) && rootless) return inNamespace();
  if (quick || qbuild || qdown || qrun) {
    process.on('SIGINT', onSigint);
    try {
      ctx = new Context((quick ?? qbuild ?? qdown ?? qrun)!.globals, io);
      code = quick ? await (await import('./commands/up.js')).runUp(ctx, [], quick.flags)
        : qdown ? await (await import('./commands/up.js')).runDown(ctx, qdown.flags)
        : qrun ? await (await import('./commands/run.js')).runRun(ctx, qrun.service, qrun.command, qrun.flags)
        : await (await import('./commands/build.js')).runBuild(ctx, qbuild!.services, { quiet: qbuild!.quiet });
    } catch (e) {
      io.err(renderError(e, debugWanted || !!ctx?.debug));
      code = exitCodeFor(e);
    } finally {
      process.removeListener('SIGINT', onSigint);
      await ctx?.close().catch(() => {});
    }
    return code;
  }

  const { Command, CommanderError, Option } = await import('commander');

  // Only the command named on the command line is declared (each declaration
  // costs start-up time); when the first word is not a command name (help,
  // completion, a typo to suggest for) the whole tree is.
  const first = commandWord(argv);
  let program = build(first === 'help' || first === 'completion' ? undefined : first);
  if (first !== undefined && !program.commands.some((c) => c.name() === first)) program = build(undefined);

  function build(only: string | undefined): InstanceType<typeof Command> {
    const program = new Command('tsstack');
    program.description('Daemonless, declarative multi-container stacks for one Linux host (Compose format)');
    // -v is a global option only: with one command declared, it matters only when asked for or shown in help
    if (only === undefined || argv.some((a) => a === '-v' || a === '--version' || a === '-h' || a === '--help')) program.version(`tsstack version ${version()}`, '-v, --version');
    for (const o of GLOBALS) {
      if (o.many) program.option(o.flags, o.help, collect);
      else program.option(o.flags, o.help);
    }
    program
      .enablePositionalOptions()
      .exitOverride()
      .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')), outputError: () => {} })
      .addHelpText('after', `\nEnvironment: TSSTACK_ROOT, TSSTACK_RUN_ROOT, TSSTACK_PROJECT_NAME, TSSTACK_RUNTIME\n\n${EXIT_HELP}`);

    // commander calls actions with (...arguments, options, command); handlers get (ctx, ...arguments, options).
    const act = (load: () => Promise<Handler>) => async (...args: unknown[]) => {
      if (rootless && (await import('../engine/rootless/mode.js')).needsEngine(commandPath(args.at(-1)), args.at(-2))) {
        onInterrupt(() => {}); // Ctrl-C goes to the copy inside, which stops as it would outside
        try {
          code = await inNamespace();
        } finally {
          onInterrupt(undefined);
        }
        return;
      }
      ctx = new Context(program.opts<GlobalOptions>(), io);
      const handler = await load();
      const r = await handler(ctx, ...args.slice(0, -1));
      code = typeof r === 'number' ? r : 0;
    };
    const cmd = (name: string, desc: string) => (only !== undefined && name !== only ? SKIP : program.command(name).description(desc));
    const up = () => import('./commands/up.js');
    const life = () => import('./commands/lifecycle.js');
    const inspect = () => import('./commands/inspect.js');
    const img = () => import('./commands/images.js');

    cmd('up', 'create and start the stack, changing only what differs')
      .argument('[services...]')
      .option('-d, --detach', 'run in the background')
      .option('--force-recreate', 'recreate containers even if their config did not change')
      .option('--no-recreate', 'never recreate existing containers')
      .option('--no-deps', 'do not start the named services\' dependencies')
      .option('--no-start', 'create but do not start')
      .option('--remove-orphans', 'remove containers of services no longer in the stack')
      .option('--scale <service=n>', 'number of replicas for a service (repeatable)', scaleOpt)
      .addOption(new Option('--pull <policy>', 'pull images').choices(['always', 'missing', 'never']))
      .option('--build', 'build images before starting')
      .option('--wait', 'wait until services are running or healthy (implies -d)')
      .option('--wait-timeout <seconds>', 'give up waiting after this long', int('--wait-timeout'))
      .option('--abort-on-container-exit', 'stop everything when any container exits (attached mode)')
      .option('--abort-on-container-failure', 'stop everything when any container exits non-zero (attached mode)')
      .option('--exit-code-from <service>', 'return the exit code of this service (implies --abort-on-container-exit)')
      .option('-t, --timeout <seconds>', 'shutdown timeout when replacing containers', int('--timeout'))
      .option('--watch', 'keep the stack converged while its files change (Ctrl-C stops watching and, unless -d/--keep, the stack)')
      .option('--keep', 'with --watch: Ctrl-C stops watching but leaves the stack running')
      .option('--ui [port]', 'with --watch: serve the dashboard (see `tsstack ui`) while watching')
      .option('--no-color', 'attached mode: no colours')
      .option('--no-log-prefix', 'attached mode: no container prefix')
      .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
      .option('--parallel <n>', 'engine operations in flight at once', int('--parallel'))
      .action(act(async () => (await up()).runUp));
    cmd('scale', 'set the number of replicas of services').argument('<service=n...>')
      .option('--no-deps', 'do not start dependencies')
      .option('-t, --timeout <seconds>', 'shutdown timeout for removed replicas', int('--timeout'))
      .action(act(async () => (await up()).runScale));
    cmd('create', 'create the stack\'s containers without starting them')
      .argument('[services...]')
      .option('--force-recreate').option('--no-recreate').option('--build').option('--remove-orphans')
      .addOption(new Option('--pull <policy>').choices(['always', 'missing', 'never']))
      .option('--scale <service=n>', 'replicas', scaleOpt)
      .action(act(async () => (await up()).runCreate));
    cmd('plan', 'show what up would change, and why, without changing anything')
      .argument('[services...]')
      .option('--detailed-exitcode', 'exit 0 when there is nothing to do, 2 when there are changes')
      .option('--force-recreate').option('--no-recreate').option('--no-deps').option('--remove-orphans').option('--build')
      .addOption(new Option('--pull <policy>').choices(['always', 'missing', 'never']))
      .option('--scale <service=n>', 'replicas', scaleOpt)
      .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
      .action(act(async () => (await up()).runPlan));
    cmd('down', 'stop and remove the stack\'s containers and networks')
      .option('-v, --volumes', 'also remove named volumes declared by the stack')
      .option('--remove-orphans', 'also remove containers of services not in the stack')
      .option('-t, --timeout <seconds>', 'shutdown timeout', int('--timeout'))
      .action(act(async () => (await up()).runDown));
    cmd('watch', 'start the stack if needed, then keep it converged while its files change')
      .argument('[services...]')
      .option('--no-up', 'do not reconcile before watching (the first change does)')
      .option('--build', 'build images before starting')
      .addOption(new Option('--pull <policy>', 'pull images').choices(['always', 'missing', 'never']))
      .option('--no-deps', 'do not start the named services\' dependencies')
      .option('-t, --timeout <seconds>', 'shutdown timeout when replacing containers', int('--timeout'))
      .option('--parallel <n>', 'engine operations in flight at once', int('--parallel'))
      .option('--ui [port]', 'serve the dashboard (see `tsstack ui`) while watching')
      .addHelpText('after', [
        '',
        'Like `docker compose watch`: brings the stack up (as `up -d`), then watches the stack files, `.env`,',
        'env_files, build contexts (honouring .dockerignore) and `develop.watch` paths. Each change reloads',
        'the stack and reconciles it (the plan is printed; services deleted from the file are removed);',
        '`develop.watch` rules sync files into running containers, restart them, run hooks or rebuild.',
        'A stack file that does not load is reported and the stack keeps running as it was.',
        'Ctrl-C stops watching and leaves the stack running; `up --watch` instead follows the merged logs',
        'and stops the stack on Ctrl-C (unless -d or --keep).',
      ].join('\n'))
      .action(act(async () => (await up()).runWatchCommand));

    cmd('ui', 'a live dashboard of the stack in the browser (127.0.0.1, with a token)').option('-p, --port <port>', 'port (default: any free one; the project is the global -p before ui)', int('--port')).action(act(async () => (await import('./commands/ui.js')).runUi));
    cmd('ps', 'list the project\'s containers')
      .argument('[services...]')
      .option('-a, --all', 'include stopped containers')
      .option('-q, --quiet', 'only ids')
      .option('--services', 'only service names')
      .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
      .option('--swarm [url]', 'the project\'s tasks on a Docker Swarm (manager: URL, DOCKER_HOST or the local socket)')
      .action(act(async () => (await inspect()).runPs));
    cmd('logs', 'show container output')
      .argument('[services...]')
      .option('-f, --follow', 'follow new output')
      .option('-n, --tail <lines>', 'lines from the end of each log', int('--tail'))
      .option('--since <time>', 'since a timestamp (RFC 3339) or a duration (10m)')
      .option('-t, --timestamps', 'show timestamps')
      .option('--no-color', 'no colours')
      .option('--no-log-prefix', 'no service prefix')
      .option('--swarm [url]', 'the output of the project\'s tasks on a Docker Swarm (manager: URL, DOCKER_HOST or the local socket)')
      .action(act(async () => (await inspect()).runLogs));
    cmd('top', 'show the processes in the containers').argument('[services...]').action(act(async () => (await inspect()).runTop));
    cmd('port', 'print the host address of a published port')
      .argument('<service>').argument('<private_port>')
      .option('--protocol <proto>', 'tcp or udp', 'tcp').option('--index <n>', 'replica', int('--index'), 1)
      .action(act(async () => (await inspect()).runPort));
    cmd('stats', 'live resource usage of the containers')
      .argument('[services...]').option('--no-stream', 'print one sample and exit')
      .addOption(new Option('--format <format>').choices(['table', 'json']).default('table'))
      .action(act(async () => (await inspect()).runStats));
    cmd('ls', 'list projects').option('-a, --all', 'include stopped projects')
      .addOption(new Option('--format <format>').choices(['table', 'json']).default('table'))
      .action(act(async () => (await inspect()).runLs));
    cmd('images', 'list the images used by the project\'s containers')
      .argument('[services...]').addOption(new Option('--format <format>').choices(['table', 'json']).default('table'))
      .action(act(async () => (await inspect()).runImages));

    cmd('exec', 'run a command in a running container')
      .argument('<service>').argument('<command...>')
      .option('-i, --interactive', 'pass stdin on (the default unless it is /dev/null)')
      .option('--no-interactive', 'do not pass stdin on')
      .option('-t, --tty', 'allocate a pseudo-terminal', false)
      .option('-T, --no-TTY', 'no pseudo-terminal')
      .option('-d, --detach', 'run in the background')
      .option('-e, --env <KEY=VAL>', 'environment variable (repeatable)', collect)
      .option('-u, --user <user>', 'user')
      .option('-w, --workdir <dir>', 'working directory')
      .option('--index <n>', 'replica', int('--index'), 1)
      .passThroughOptions()
      .action(act(async () => (await life()).runExec));
    cmd('run', 'run a one-off command in a new container of a service')
      .argument('<service>').argument('[command...]')
      .option('--rm', 'remove the container when it exits')
      .option('-d, --detach', 'run in the background')
      .option('-e, --env <KEY=VAL>', 'environment variable (repeatable)', collect)
      .option('-u, --user <user>', 'user')
      .option('-w, --workdir <dir>', 'working directory')
      .option('-T, --no-TTY', 'no pseudo-terminal')
      .option('-t, --tty', 'allocate a pseudo-terminal (the default when stdin is a terminal)')
      .option('-i, --interactive', 'pass stdin on (the default unless it is /dev/null)')
      .option('--no-interactive', 'do not pass stdin on')
      .option('--entrypoint <cmd>', 'override the entrypoint')
      .option('--name <name>', 'container name')
      .option('--no-deps', 'do not start dependencies')
      .option('-p, --publish <port>', 'publish a port (repeatable)', collect)
      .option('--service-ports', 'publish the service\'s ports')
      .option('--use-aliases', 'answer to the service\'s name and network aliases too (else to its own name only)')
      .passThroughOptions()
      .action(act(async () => (await import('./commands/run.js')).runRun));
    for (const [name, desc] of [['start', 'start existing containers'], ['restart', 'restart containers'], ['stop', 'stop containers']] as const) {
      const c = cmd(name, desc).argument('[services...]');
      if (name !== 'start') c.option('-t, --timeout <seconds>', 'shutdown timeout', int('--timeout'));
      c.action(act(async () => (await life()).lifecycle(name)));
    }
    cmd('kill', 'send a signal to containers').argument('[services...]').option('-s, --signal <sig>', 'signal', 'SIGKILL')
      .action(act(async () => (await life()).runKill));
    cmd('rm', 'remove stopped containers').argument('[services...]')
      .option('-f, --force', 'do not ask').option('-s, --stop', 'stop them first').option('-v, --volumes', 'remove anonymous volumes')
      .action(act(async () => (await life()).runRm));
    cmd('wait', 'wait for containers to exit; prints exit codes').argument('<services...>').option('--down-project', 'down the project after the first exit')
      .action(act(async () => (await life()).runWait));
    cmd('cp', 'copy files between a service container and the host (SERVICE:PATH)').argument('<src>').argument('<dest>')
      .option('--index <n>', 'replica', int('--index'), 1)
      .option('-a, --archive', 'keep owners (uid/gid) and set-id bits; without it copies are owned by root in the container, by you on the host')
      .option('-L, --follow-link', 'follow a link given as SRC')
      .action(act(async () => (await life()).runCp));

    cmd('build', 'build the images of services with a build section').argument('[services...]')
      .option('--no-cache', 'do not use the layer cache').option('--pull', 'pull base images')
      .option('-q, --quiet', 'no progress output').option('--push', 'push each built image to the registry its image: name says')
      .action(act(async () => (await img()).runBuild));
    cmd('pull', 'pull the images of services').argument('[services...]').option('-q, --quiet', 'no progress output')
      .option('--ignore-pull-failures', 'keep going')
      .action(act(async () => (await img()).runPull));
    cmd('push', 'push the images of services to the registries their image: names say').argument('[services...]').option('-q, --quiet', 'no progress output')
      .option('--ignore-push-failures', 'keep going')
      .action(act(async () => (await img()).runPush));
    const image = cmd('image', 'manage images');
    image.command('ls').alias('list').description('list images').option('-q, --quiet', 'only ids')
      .addOption(new Option('--format <format>').choices(['table', 'json']).default('table'))
      .action(act(async () => (await img()).imageLs));
    image.command('rm').alias('remove').description('remove images').argument('<refs...>').option('-f, --force', 'force')
      .action(act(async () => (await img()).imageRm));
    image.command('prune').description('remove unused blobs and layers').action(act(async () => (await img()).imagePrune));
    image.command('inspect').description('image details as JSON').argument('<refs...>').action(act(async () => (await img()).imageInspect));
    image.command('load').description('load a docker save / OCI archive').option('-i, --input <file>', 'archive (default: stdin)')
      .action(act(async () => (await img()).imageLoad));
    image.command('save').description('write images to a docker save archive').argument('<refs...>').requiredOption('-o, --output <file>', 'archive')
      .action(act(async () => (await img()).imageSave));
    image.command('import').description('make a one-layer image from a root filesystem tar or directory').argument('<source>').argument('<ref>')
      .option('-c, --change <instruction>', 'Dockerfile instruction for the image config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR, VOLUME, … (repeatable)', collect)
      .option('-m, --message <text>', 'comment for the image history')
      .action(act(async () => (await img()).imageImport));
    image.command('tag').description('give an image another name').argument('<source>').argument('<target>')
      .action(act(async () => (await img()).imageTag));
    image.command('pull').description('pull an image').argument('<ref>').action(act(async () => (await img()).imagePull));
    image.command('push').description('push an image to the registry its name says (TSSTACK_INSECURE_REGISTRIES: plain-HTTP registries besides loopback)')
      .argument('<ref>').option('-q, --quiet', 'print only the digest').action(act(async () => (await img()).imagePush));
    image.command('build').description('build an image from a Dockerfile and a context, like docker build (same builder and cache as build)')
      .argument('<context>').option('-t, --tag <name>', 'name:tag of the image (repeatable)', collect)
      .option('-f, --file <dockerfile>', 'Dockerfile (default: <context>/Dockerfile; - reads it from standard input)')
      .option('--build-arg <key=value>', 'build argument (repeatable; KEY alone takes it from the environment)', collect)
      .option('--label <key=value>', 'image label (repeatable)', collect)
      .option('--target <stage>', 'stage to build').option('--no-cache', 'do not use the layer cache').option('-q, --quiet', 'print only the image id')
      .option('--push', 'push the image to each -t name\'s registry')
      .action(act(async () => (await img()).imageBuild));

    cmd('config', 'print the stack as tsstack understands it (normalized)')
      .addOption(new Option('--format <format>').choices(['yaml', 'json']).default('yaml'))
      .option('--services', 'print the service names').option('--volumes', 'print the volume names')
      .option('--profiles', 'print the profile names').option('-q, --quiet', 'only validate')
      .option('--explain [key-or-variable]', 'where each interpolated value came from (shell, --env-file, .env, a default in the file), and what it overrode')
      .action(act(async () => (await import('./commands/config-cmd.js')).runConfigCommand));
    cmd('render', 'write the stack as manifests for another orchestrator (kubernetes)')
      .argument('<target>', 'kubernetes')
      .option('-o, --output <dir>', 'write one file per object into DIR (default: one YAML stream on stdout)')
      .option('--namespace <ns>', 'set metadata.namespace of every object')
      .option('--strict', 'keys with no faithful mapping are errors (exit 2), not warnings')
      .action(act(async () => (await import('./commands/render.js')).runRender));
    cmd('deploy', 'bring the stack to a cluster engine: a Docker Swarm or Kubernetes (a reconciler, like up)')
      .addOption(new Option('--to <target>', 'the cluster engine').choices(['swarm', 'kubernetes']).makeOptionMandatory())
      .option('--host <url>', 'swarm: Docker Engine API endpoint (default: DOCKER_HOST or the local socket)')
      .option('--registry <host>', 'swarm: push images whose names name no registry to this one')
      .option('--with-registry-auth', 'swarm: send the registry credentials of your Docker config with each service, so its nodes can pull private images')
      .option('--context <name>', 'kubernetes: kubeconfig context')
      .option('--namespace <ns>', 'kubernetes: namespace of every object')
      .option('--plan', 'print what would change, per object and field; change nothing')
      .option('--rm', 'remove everything of the project from the cluster, and nothing else (Kubernetes: PersistentVolumeClaims are kept)')
      .option('-v, --volumes', 'kubernetes, with --rm: also delete the PersistentVolumeClaims (their data goes)')
      .option('--wait', 'wait until the rollout is ready')
      .option('--strict', 'keys with no faithful mapping are errors (exit 2), not warnings')
      .action(act(async () => (await import('./commands/deploy.js')).runDeploy));
    cmd('version', 'print the version').addOption(new Option('--format <format>').choices(['text', 'json']).default('text'))
      .action(act(async () => async (c: Context, o: { format: string }) => {
        c.io.out(o.format === 'json' ? JSON.stringify({ version: version(), node: process.version }) : `tsstack version ${version()}`);
        return 0;
      }));
    cmd('completion', 'print a shell completion script').argument('[shell]', 'bash', 'bash')
      .action(act(async () => (await import('./commands/completion.js')).runCompletion(program)));
    return program;
  }

  process.on('SIGINT', onSigint);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      io.err(`error: ${e.message.replace(/^error: /, '')}`);
      io.err('hint: see tsstack --help');
      return 2;
    }
    io.err(renderError(e, debugWanted || !!ctx?.debug));
    code = exitCodeFor(e);
  } finally {
    process.removeListener('SIGINT', onSigint);
    await ctx?.close().catch(() => {});
  }
  return code;
}
