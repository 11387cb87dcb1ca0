// `node --import` this to log the modules the process imports (module-log-hooks.ts).
import { register } from 'node:module';

register('./module-log-hooks.js', import.meta.url);
