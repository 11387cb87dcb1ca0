// Runs argv inside the caller's rootless namespace as tsstack would (enter.ts), for the tests.
import { runInNamespace } from '../../src/engine/rootless/enter.js';

runInNamespace([], { err: (l) => process.stderr.write(`${l}\n`) }, process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e) => {
    process.stderr.write(`${e.message}\n`);
    process.exitCode = 8;
  },
);
