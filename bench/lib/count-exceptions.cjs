'use strict';
// Preload (node --require) that counts every exception a command throws, caught or not, by where it was
// thrown: a debugger session of the process's own pauses at each one and resumes at once. An exception
// costs ~25 us here (an Error with its stack, for a file that is not there, an empty pipe, …), and a
// command's paths should throw none. At exit: "exceptions N" then "count message | frames" lines, on
// stderr or appended to $TSSTACK_EXCEPTION_LOG.
//   node --require bench/lib/count-exceptions.cjs bin/tsstack.js up -d
const inspector = require('node:inspector');
const fs = require('node:fs');

const session = new inspector.Session();
session.connect();
const sites = new Map();
session.on('Debugger.paused', ({ params }) => {
  if (params.reason === 'exception' || params.reason === 'promiseRejection') {
    const frames = params.callFrames.slice(0, 4).map((f) => `${f.functionName || '(anonymous)'} ${(f.url || '').split('/').pop()}:${f.location.lineNumber + 1}`);
    const what = String((params.data && (params.data.description || params.data.className)) || '?').split('\n')[0].slice(0, 120);
    const key = `${what} | ${frames.join(' < ')}`;
    sites.set(key, (sites.get(key) || 0) + 1);
  }
  session.post('Debugger.resume');
});
session.post('Debugger.enable');
session.post('Debugger.setPauseOnExceptions', { state: 'all' });

process.on('exit', () => {
  let total = 0;
  for (const n of sites.values()) total += n;
  const lines = [`exceptions ${total}`, ...[...sites].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n} ${k}`)];
  const out = `${lines.join('\n')}\n`;
  if (process.env.TSSTACK_EXCEPTION_LOG) fs.appendFileSync(process.env.TSSTACK_EXCEPTION_LOG, out);
  else fs.writeSync(2, out);
});
