// `image import --change`: the pure config changes, then the real command line
// importing a root filesystem with them (real image store in a temporary root).
import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyChanges } from '../../src/cli/image-changes.js';
import { isTsstackError } from '../../src/util/errors.js';
import { Sandbox } from '../examples/_cli.js';
import { needs } from '../helpers/skip.js';

test('applyChanges: each instruction sets its part of the config, in order', (t) => {
  const cfg = applyChanges([
    'ENV PATH=/usr/bin:/bin',
    'ENV A=b HOME=/root',
    'ENV A=c',
    'WORKDIR /srv',
    'WORKDIR app',
    'USER nobody:nogroup',
    'EXPOSE 80 53/udp 8000-8001',
    'LABEL org.example.k=v "other key"="x y"',
    'VOLUME ["/data"]',
    'STOPSIGNAL SIGKILL',
    'CMD ["httpd", "-f"]',
  ]);
  t.deepEqual(cfg, {
    Env: ['PATH=/usr/bin:/bin', 'HOME=/root', 'A=c'],
    WorkingDir: '/srv/app',
    User: 'nobody:nogroup',
    ExposedPorts: { '80/tcp': {}, '53/udp': {}, '8000/tcp': {}, '8001/tcp': {} },
    Labels: { 'org.example.k': 'v', 'other key': 'x y' },
    Volumes: { '/data': {} },
    StopSignal: 'SIGKILL',
    Cmd: ['httpd', '-f'],
  });
});

test('applyChanges: shell forms, ENV expansion, ENTRYPOINT dropping an earlier CMD it did not follow', (t) => {
  t.deepEqual(applyChanges(['ENV DIR=/opt', 'WORKDIR $DIR/x', 'CMD echo $DIR']), { Env: ['DIR=/opt'], WorkingDir: '/opt/x', Cmd: ['/bin/sh', '-c', 'echo $DIR'] });
  // A CMD given in the changes stays with a later ENTRYPOINT; one from the base does not.
  t.deepEqual(applyChanges(['CMD ["a"]', 'ENTRYPOINT ["e"]']), { Cmd: ['a'], Entrypoint: ['e'] });
  t.deepEqual(applyChanges(['ENTRYPOINT ["e"]'], { Cmd: ['base'] }), { Entrypoint: ['e'] });
  t.deepEqual(applyChanges(['SHELL ["/bin/bash", "-c"]', 'ENTRYPOINT run me']), { Shell: ['/bin/bash', '-c'], Entrypoint: ['/bin/bash', '-c', 'run me'] });
  t.deepEqual(applyChanges(['HEALTHCHECK --interval=5s CMD wget -q localhost']).Healthcheck, { Test: ['CMD-SHELL', 'wget -q localhost'], Interval: 5e9 });
  t.deepEqual(applyChanges(['cmd ["lower", "case"]']), { Cmd: ['lower', 'case'] });
});

test('applyChanges: instructions that change files, and malformed ones, are refused naming the change', (t) => {
  for (const [change, re] of [
    ['RUN echo hi', /--change "RUN echo hi": RUN cannot be used with --change/],
    ['COPY a /b', /COPY cannot be used/],
    ['FROM busybox', /FROM cannot be used/],
    ['EXPOSE http', /invalid port "http" in EXPOSE/],
    ['BOGUS x', /--change "BOGUS x": unknown instruction/],
    ['ENV', /--change "ENV": ENV requires at least one argument/],
  ] as const) {
    const e = t.throws(() => applyChanges([change]), undefined, change);
    t.true(isTsstackError(e) && e.code === 'USAGE', change);
    t.regex(e!.message, re);
  }
});


needs('root').serial('tsstack image import --change: the imported image carries the config; a bad change imports nothing', async (t) => {
  const b = new Sandbox();
  t.teardown(() => b.dispose());
  const rootfs = join(b.base, 'rootfs');
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  writeFileSync(join(rootfs, 'etc/hello'), 'hi\n');
  const tar = join(b.base, 'rootfs.tar');
  t.is((await b.exec('tar', ['-C', rootfs, '-cf', tar, '.'])).code, 0);

  const r = await b.tsstack('image', 'import', '--change', 'ENV A=b', '-c', 'CMD ["x", "y"]', '--change', 'EXPOSE 80',
    '--change', 'WORKDIR /x', '--change', 'ENTRYPOINT ["/bin/e"]', '--change', 'USER 1000', '--change', 'LABEL k=v', '-m', 'made in a test', tar, 'example.test/changed:1');
  t.is(r.code, 0, r.err);
  t.regex(r.out.trim(), /^sha256:[0-9a-f]{64}$/);
  const inspect = await b.tsstack('image', 'inspect', 'example.test/changed:1');
  t.is(inspect.code, 0, inspect.err);
  const [info] = JSON.parse(inspect.out) as { config: Record<string, unknown> }[];
  t.deepEqual(info!.config, {
    Env: ['A=b'], Cmd: ['x', 'y'], ExposedPorts: { '80/tcp': {} }, WorkingDir: '/x', Entrypoint: ['/bin/e'], User: '1000', Labels: { k: 'v' },
  });

  const bad = await b.tsstack('image', 'import', '--change', 'RUN rm -rf /', tar, 'example.test/bad:1');
  t.is(bad.code, 2, bad.err);
  t.regex(bad.err, /error: .*--change "RUN rm -rf \/": RUN cannot be used with --change/);
  t.regex(bad.err, /hint: use one Dockerfile instruction per --change/);
  t.is((await b.tsstack('image', 'inspect', 'example.test/bad:1')).code, 3);
});
