// COPY semantics on plain directories (no mounts needed): the root is a temp dir.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { copyInto, listTree, type CopySource } from '../../../src/engine/image/build/copy.js';
import { archiveKind, extractArchive } from '../../../src/engine/image/build/archive.js';
import { makeTemp, rmTemp } from '../../helpers/rootfs.js';

function src(abs: string): CopySource {
  const st = statSync(abs);
  return { abs, name: abs.split('/').pop()!, st, children: st.isDirectory() ? () => listTree(abs) : undefined };
}

test('a directory source copies its contents; files keep mode, get root ownership or --chown/--chmod', async (t) => {
  const d = makeTemp();
  try {
    const s = join(d, 'src');
    mkdirSync(join(s, 'sub'), { recursive: true });
    writeFileSync(join(s, 'sub/x'), 'x');
    writeFileSync(join(s, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    symlinkSync('run.sh', join(s, 'link'));
    const root = join(d, 'root');
    mkdirSync(root);
    await copyInto(root, '/app', [src(s)], { multi: false });
    t.is(readFileSync(join(root, 'app/sub/x'), 'utf8'), 'x');
    t.is(statSync(join(root, 'app/run.sh')).mode & 0o777, 0o755);
    t.is(readlinkSync(join(root, 'app/link')), 'run.sh');
    t.is(statSync(join(root, 'app/sub/x')).uid, 0);
    await copyInto(root, '/owned/', [src(join(s, 'run.sh'))], { multi: false, owner: { uid: 1000, gid: 1001 }, mode: 0o600 });
    const st = statSync(join(root, 'owned/run.sh'));
    t.deepEqual([st.uid, st.gid, st.mode & 0o777], [1000, 1001, 0o600]);
  } finally { rmTemp(d); }
});

test('file destinations: a name, a dir with /, an existing dir; several sources need a dir', async (t) => {
  const d = makeTemp();
  try {
    writeFileSync(join(d, 'a'), 'A');
    writeFileSync(join(d, 'b'), 'B');
    const root = join(d, 'root');
    mkdirSync(join(root, 'exists'), { recursive: true });
    await copyInto(root, '/renamed', [src(join(d, 'a'))], { multi: false });
    t.is(readFileSync(join(root, 'renamed'), 'utf8'), 'A');
    await copyInto(root, '/dir/', [src(join(d, 'a'))], { multi: false });
    t.is(readFileSync(join(root, 'dir/a'), 'utf8'), 'A');
    await copyInto(root, '/exists', [src(join(d, 'a'))], { multi: false });
    t.is(readFileSync(join(root, 'exists/a'), 'utf8'), 'A');
    await t.throwsAsync(copyInto(root, '/nodir', [src(join(d, 'a')), src(join(d, 'b'))], { multi: true }), { message: /must be a directory and end with a \// });
    await copyInto(root, '/both/', [src(join(d, 'a')), src(join(d, 'b'))], { multi: true });
    t.deepEqual(readdirSync(join(root, 'both')).sort(), ['a', 'b']);
  } finally { rmTemp(d); }
});

test('destinations resolve inside the root through its symlinks', async (t) => {
  const d = makeTemp();
  try {
    writeFileSync(join(d, 'f'), 'F');
    const root = join(d, 'root');
    mkdirSync(join(root, 'usr/lib'), { recursive: true });
    symlinkSync('/usr/lib', join(root, 'lib'));
    symlinkSync('/', join(root, 'escape'));
    await copyInto(root, '/lib/', [src(join(d, 'f'))], { multi: false });
    t.is(readFileSync(join(root, 'usr/lib/f'), 'utf8'), 'F');
    await copyInto(root, '/escape/tmp/', [src(join(d, 'f'))], { multi: false });
    t.is(readFileSync(join(root, 'tmp/f'), 'utf8'), 'F', 'an absolute symlink points into the root, not the host');
    t.true(lstatSync(join(root, 'lib')).isSymbolicLink());
  } finally { rmTemp(d); }
});

for (const [kind, flag] of [['gzip', '-z'], ['bzip2', '-j'], ['xz', '-J'], ['tar', '']] as const) {
  test(`ADD archives: ${kind} is recognized by content and unpacked`, async (t) => {
    const d = makeTemp();
    try {
      mkdirSync(join(d, 'in/pkg'), { recursive: true });
      writeFileSync(join(d, 'in/pkg/file'), kind);
      execFileSync('tar', ['-c', ...(flag ? [flag] : []), '-f', join(d, 'archive.bin'), '-C', join(d, 'in'), 'pkg']);
      t.is(await archiveKind(join(d, 'archive.bin')), kind);
      await extractArchive(join(d, 'archive.bin'), join(d, 'out'));
      t.is(readFileSync(join(d, 'out/pkg/file'), 'utf8'), kind);
    } finally { rmTemp(d); }
  });
}

test('ADD: a file that is not an archive is not one', async (t) => {
  const d = makeTemp();
  try {
    writeFileSync(join(d, 'plain.tar.gz'), 'not really');
    t.is(await archiveKind(join(d, 'plain.tar.gz')), undefined);
  } finally { rmTemp(d); }
});
