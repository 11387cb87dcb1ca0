// BuildKit's instruction-level cases (derived/instruction-cases.json), read in place.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseDockerfile } from '../../../src/engine/image/build/parser.js';
import { toDockerfile, toInstruction, InstructionError, type HealthcheckInstr } from '../../../src/engine/image/build/instructions.js';
import { skipWhen } from '../../helpers/skip.js';

const BK = resolve(process.cwd(), '../shared/conformance/buildkit');
const present = existsSync(BK);

interface Case {
  source: string;
  dockerfile?: string;
  instruction?: string;
  flag?: string;
  ok?: boolean;
  error_equals?: string;
  error_contains?: string;
  expect?: Record<string, unknown>;
}

function reasonOf(fn: () => unknown): string | undefined {
  try { fn(); return undefined; } catch (e) { return e instanceof InstructionError ? e.reason : (e as Error).message; }
}

skipWhen(!present, '../shared absent')('derived/instruction-cases.json', (t) => {
  const doc = JSON.parse(readFileSync(join(BK, 'derived/instruction-cases.json'), 'utf8')) as { error_cases: Case[]; ok_cases?: Case[] };
  const cases = [...doc.error_cases, ...(doc.ok_cases ?? [])];
  const failures: string[] = [];
  for (const c of cases) {
    const label = `${c.source}: ${JSON.stringify(c.dockerfile ?? c.instruction ?? c.flag)}`;
    if (c.flag !== undefined) {
      const reason = reasonOf(() => toDockerfile(parseDockerfile(`FROM scratch\nHEALTHCHECK ${c.flag} CMD true\n`)));
      if (c.ok ? reason !== undefined : !(reason ?? '').includes(c.error_contains!)) failures.push(`${label} → ${reason}`);
      continue;
    }
    if (c.instruction !== undefined) {
      const ins = toInstruction(parseDockerfile(c.instruction).children[0]!) as HealthcheckInstr;
      if (JSON.stringify(ins.test) !== JSON.stringify(c.expect!.healthcheck_test)) failures.push(`${label} → ${JSON.stringify(ins.test)}`);
      continue;
    }
    if (c.expect) {
      const df = toDockerfile(parseDockerfile(c.dockerfile!));
      const got = {
        stage0_doc_comment: df.stages[0]!.doc,
        global_args: df.metaArgs.flatMap((a) => a.args.map((x) => ({ key: x.key, doc: x.doc }))),
        stage0_args: df.stages[0]!.commands.flatMap((a) => (a.kind === 'ARG' ? a.args.map((x) => ({ key: x.key, doc: x.doc })) : [])),
      };
      if (JSON.stringify(got) !== JSON.stringify(c.expect)) failures.push(`${label} → ${JSON.stringify(got)}`);
      continue;
    }
    const ast = parseDockerfile(c.dockerfile!);
    const reason = reasonOf(() => toDockerfile(ast));
    const ok = c.error_equals !== undefined ? reason === c.error_equals : (reason ?? '').includes(c.error_contains!);
    if (!ok) failures.push(`${label} → ${reason}`);
  }
  t.log(`instruction-cases: ${cases.length - failures.length} of ${cases.length} pass`);
  t.deepEqual(failures, []);
});

test('errors name file and line, with a hint for a misspelt instruction', (t) => {
  const e = t.throws(() => toDockerfile(parseDockerfile('FROM scratch\n\n# c\nRUN true\nRUNN x\n', { file: 'app/Dockerfile' }), 'app/Dockerfile'), { instanceOf: InstructionError });
  t.is(e!.message, 'app/Dockerfile:5: unknown instruction: RUNN');
  t.is(e!.hint, 'did you mean RUN?');
  t.is(e!.location?.line, 5);
});

test('stages, meta args, --platform kept', (t) => {
  const df = toDockerfile(parseDockerfile('ARG BASE=busybox\nFROM --platform=linux/amd64 ${BASE} AS Build\nRUN x\nFROM scratch\nCOPY --from=build --chmod=755 /a /b\n'));
  t.is(df.metaArgs.length, 1);
  t.deepEqual(df.stages.map((s) => [s.name, s.from.image]), [['build', '${BASE}'], [undefined, 'scratch']]);
  t.is(df.stages[0]!.from.platform, 'linux/amd64');
  const cp = df.stages[1]!.commands[0]!;
  t.like(cp, { kind: 'COPY', from: 'build', chmod: '755', sources: ['/a'], dest: '/b' });
});

test('HEALTHCHECK NONE and options', (t) => {
  const df = toDockerfile(parseDockerfile('FROM scratch\nHEALTHCHECK NONE\nHEALTHCHECK --interval=1m30s --retries=2 CMD ["x", "y"]\n'));
  t.like(df.stages[0]!.commands[0], { test: ['NONE'] });
  t.like(df.stages[0]!.commands[1], { test: ['CMD', 'x', 'y'], intervalNs: 90e9, retries: 2 });
  t.throws(() => toDockerfile(parseDockerfile('FROM scratch\nHEALTHCHECK NONE x\n')), { message: /takes no arguments/ });
});
