// A healthcheck's one normal form and its defaults, for both sources of a
// check: the stack file (the loader) and the image's config (reconcile). The
// engine and the monitor receive every value from here.

import type { HealthcheckSpec } from './types.js';

/** Docker's defaults, milliseconds. */
export const HEALTH_DEFAULTS = { interval: 30_000, timeout: 30_000, retries: 3, startPeriod: 0, startInterval: 5_000 } as const;

const KINDS = ['NONE', 'CMD', 'CMD-SHELL'];

/**
 * `['NONE']`, `['CMD', …]` or `['CMD-SHELL', line]`. A string is a shell line (`NONE` disables); a list
 * without a kind is the shell line of its words (an image's config may carry one; the loader refuses it).
 */
export function healthTest(test: string | readonly string[]): string[] {
  if (typeof test === 'string') return test === 'NONE' ? ['NONE'] : ['CMD-SHELL', test];
  if (test.length === 0 || KINDS.includes(test[0]!)) return [...test];
  return ['CMD-SHELL', test.join(' ')];
}

/** Whether a list starts with a kind (what the loader requires of a stack file's list form). */
export function hasHealthKind(test: readonly string[]): boolean {
  return test.length === 0 || KINDS.includes(test[0]!);
}

/** An image config's healthcheck (durations in nanoseconds, 0 = unset). */
export interface ImageHealth {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  Retries?: number;
  StartPeriod?: number;
  StartInterval?: number;
}

/** The check a container runs: the service's values, else the image's, else the defaults; undefined = none. */
export function effectiveHealthcheck(h: HealthcheckSpec | undefined, ih: ImageHealth | undefined):
  { test: string[]; interval: number; timeout: number; retries: number; startPeriod: number; startInterval: number } | undefined {
  if (h?.disable) return undefined;
  const raw = h?.test ?? ih?.Test;
  if (!raw || raw.length === 0) return undefined;
  const test = healthTest(raw);
  if (test[0] === 'NONE') return undefined;
  const ms = (ns: number | undefined) => (ns === undefined || ns === 0 ? undefined : Math.round(ns / 1e6));
  return {
    test,
    interval: h?.interval ?? ms(ih?.Interval) ?? HEALTH_DEFAULTS.interval,
    timeout: h?.timeout ?? ms(ih?.Timeout) ?? HEALTH_DEFAULTS.timeout,
    retries: h?.retries ?? ih?.Retries ?? HEALTH_DEFAULTS.retries,
    startPeriod: h?.start_period ?? ms(ih?.StartPeriod) ?? HEALTH_DEFAULTS.startPeriod,
    startInterval: h?.start_interval ?? ms(ih?.StartInterval) ?? HEALTH_DEFAULTS.startInterval,
  };
}
