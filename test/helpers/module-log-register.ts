// `node --import` this to log the modules the process loads: ES modules as they are resolved
// (module-log-hooks.ts), CommonJS ones (required, or imported through the CommonJS loader) from
// the require cache at exit.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';

register('./module-log-hooks.js', import.meta.url);

const cache = createRequire(import.meta.url).cache;
process.on('exit', () => {
  const log = process.env.TSSTACK_TEST_MODULE_LOG;
  if (log) appendFileSync(log, Object.keys(cache).map((p) => `${pathToFileURL(p).href}\n`).join(''));
});
