// Small process helpers for the detached DNS server: is a pid alive and ours, wait for exit.

import { readFileSync } from 'node:fs';
import { readOr } from '../../util/read-or.js';

/** The pid in a pid file, or undefined when absent or unreadable. */
export function readPid(path: string): number | undefined {
  const pid = Number.parseInt(readOr(path)?.trim() ?? '', 10); // (no server yet: no file)
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Whether `pid` runs (not a zombie) and every string in `argvHas` occurs in one of its argv elements. */
export function isProcess(pid: number, argvHas: string[]): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argvHas.every((s) => argv.some((a) => a.includes(s)));
  } catch {
    return false;
  }
}

/** VmRSS of `pid` in kB, or undefined. */
export function rssKb(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every `stepMs` until it holds or `timeoutMs` passes; returns its last value. */
export async function waitFor(cond: () => boolean, timeoutMs: number, stepMs = 5): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() >= end) return false;
    await sleep(stepMs);
  }
}
