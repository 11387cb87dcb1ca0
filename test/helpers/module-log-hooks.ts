// Module hooks (node:module register) that append the URL of every module the process
// imports to the file named by TSSTACK_TEST_MODULE_LOG; see loaded-modules.ts.
import { appendFileSync } from 'node:fs';

type Next = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<{ url: string }> {
  const r = await next(specifier, context);
  const log = process.env.TSSTACK_TEST_MODULE_LOG;
  if (log) appendFileSync(log, `${r.url}\n`);
  return r;
}
