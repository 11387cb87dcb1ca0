#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS TSSTACK_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
'use strict';
// The first line starts Node without NODE_EXTRA_CA_CERTS, whose certificates Node 20 would parse,
// with all its own roots, before anything runs (~40 ms of every command where it is set); the
// path goes on as TSSTACK_EXTRA_CA_CERTS to the TLS clients that use it (src/util/extra-ca.ts).
// Thin launcher: the compiled CLI lives in dist/ (built by `npm run build`), as one
// bundle loaded through a code cache when there is one (code-cache.cjs says how and
// when), else as the ES modules of dist/src/. CommonJS (bin/package.json): Node's ES
// module loader is not started unless the modules are.
// A reader that stops early (`tsstack ps | head`) is not an error.
// What the first line kept from Node's start goes back into the environment, for what this command
// runs; this process's own TLS clients add those certificates themselves (src/util/extra-ca.ts).
const extraCa = process.env.TSSTACK_EXTRA_CA_CERTS;
if (extraCa !== undefined) {
  delete process.env.TSSTACK_EXTRA_CA_CERTS;
  if (extraCa) {
    process.env.NODE_EXTRA_CA_CERTS = extraCa;
    globalThis[Symbol.for('tsstack.deferredExtraCa')] = extraCa;
  }
}
// The handler goes on stdout when something first uses it: Node makes the stream at the first read of
// process.stdout (node:stream, and node:net for a pipe: 2–3 ms), which a command that prints nothing,
// such as a `run --rm` of a quiet container, then never pays.
const onStdoutError = (e) => { if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0); else throw e; };
const stdoutGetter = Object.getOwnPropertyDescriptor(process, 'stdout');
if (stdoutGetter && stdoutGetter.get && stdoutGetter.configurable) {
  let handled = false;
  Object.defineProperty(process, 'stdout', {
    configurable: true,
    enumerable: stdoutGetter.enumerable,
    get() {
      const stream = stdoutGetter.get.call(process);
      if (!handled) { handled = true; stream.on('error', onStdoutError); }
      return stream;
    },
  });
} else process.stdout.on('error', onStdoutError);
const argv = process.argv.slice(2);
let bundled;
try {
  bundled = require('./code-cache.cjs').loadBundled(argv);
} catch (err) {
  if (process.env.TSSTACK_DEBUG_STARTUP) console.error(`startup: the bundle did not load, so the modules of dist/src: ${err && err.stack}`);
}
if (process.env.TSSTACK_TRACE_PHASES) process.stderr.write(`phase ${performance.now().toFixed(1)} ${bundled ? 'bundle loaded' : 'launcher'}\n`);
(bundled ? Promise.resolve(bundled.exports) : import('../dist/src/cli/main.js')).then((m) => m.main(argv)).then(
  (code) => { process.exitCode = code ?? 0; bundled?.save(process.exitCode); },
  (err) => { console.error(err && err.stack ? err.stack : String(err)); process.exitCode = 70; },
);
// Once nothing is left to do (the loop is empty: every write, child and timer is over), exit at once:
// left to itself, Node first tears its heap down page by page (a munmap per 256 KiB page, each a TLB
// shootdown), which the kernel does anyway when the process ends: 3 ms of a `run --rm` here.
process.once('beforeExit', () => process.exit());
