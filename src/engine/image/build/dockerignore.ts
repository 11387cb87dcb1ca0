// `.dockerignore` rules as Docker applies them: one pattern per line, `#`
// comments, blank lines skipped, patterns cleaned (`./a/../b` → `b`, leading
// `/` dropped), Go filepath.Match syntax (`*`, `?`, `[a-z]`, `\` escapes)
// plus `**` for any number of directories, `!` re-includes. The last matching
// pattern decides; a pattern that matches a parent directory matches the path.
// Pure.

import { posix } from 'node:path';

export interface IgnorePattern {
  /** Cleaned pattern text. */
  pattern: string;
  exclusion: boolean;
  regex: RegExp;
  /** Path segments of the pattern, for deciding whether a directory can hold re-included files. */
  dirs: string[];
}

export class IgnoreSyntaxError extends Error {}

/** Parses `.dockerignore` text. Throws IgnoreSyntaxError on a bad pattern. */
export function parseDockerignore(text: string): IgnorePattern[] {
  const out: IgnorePattern[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    let exclusion = false;
    if (line.startsWith('!')) {
      exclusion = true;
      line = line.slice(1).trim();
      if (line === '') throw new IgnoreSyntaxError('illegal exclusion pattern: "!"');
    }
    let p = posix.normalize(line);
    if (p.length > 1 && p.startsWith('/')) p = p.slice(1);
    if (p.endsWith('/') && p.length > 1) p = p.slice(0, -1);
    if (p === '.' || p === './') p = '.';
    out.push({ pattern: p, exclusion, regex: compile(p), dirs: p.split('/') });
  }
  return out;
}

/** Go filepath.Match syntax + `**` → an anchored RegExp over `/`-separated paths. */
function compile(pattern: string): RegExp {
  let re = '^';
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '*') {
      if (chars[i + 1] === '*') {
        i++;
        if (chars[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else if (i + 1 === chars.length) re += '.*';
        else re += '.*';
      } else re += '[^/]*';
    } else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      let j = i + 1;
      let cls = '[';
      if (chars[j] === '^' || chars[j] === '!') { cls += '^'; j++; }
      let closed = false;
      for (; j < chars.length; j++) {
        const c = chars[j]!;
        if (c === ']' && j > i + 1) { closed = true; break; }
        if (c === '\\') { j++; cls += '\\' + (chars[j] ?? ''); continue; }
        cls += c === '-' ? '-' : c.replace(/[\]\\^]/g, '\\$&');
      }
      if (!closed) throw new IgnoreSyntaxError(`syntax error in pattern ${JSON.stringify(pattern)}`);
      re += cls + ']';
      i = j;
    } else if (ch === '\\') {
      i++;
      if (i >= chars.length) throw new IgnoreSyntaxError(`syntax error in pattern ${JSON.stringify(pattern)}`);
      re += escapeRe(chars[i]!);
    } else re += escapeRe(ch);
  }
  return new RegExp(re + '$', 'u');
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

export class IgnoreMatcher {
  readonly hasExclusions: boolean;

  constructor(readonly patterns: IgnorePattern[]) {
    this.hasExclusions = patterns.some((p) => p.exclusion);
  }

  /** True when `rel` (context-relative, `/`-separated, no leading `./`) is ignored. */
  ignored(rel: string): boolean {
    let matched = false;
    const parents = rel.split('/');
    for (const p of this.patterns) {
      if (p.exclusion !== matched) continue;
      let m = p.regex.test(rel);
      if (!m) {
        for (let i = 1; i < parents.length && !m; i++) m = p.regex.test(parents.slice(0, i).join('/'));
      }
      if (m) matched = !p.exclusion;
    }
    return matched;
  }

  /**
   * Whether a walk may skip an ignored directory entirely: only when no
   * exclusion pattern could re-include something below it.
   */
  canSkipDir(rel: string): boolean {
    if (!this.hasExclusions) return true;
    const depth = rel.split('/').length;
    for (const p of this.patterns) {
      if (!p.exclusion) continue;
      if (p.pattern.includes('**')) return false;
      // An exclusion deeper than this dir whose leading segments match it may re-include a child.
      if (p.dirs.length > depth) {
        const prefix = p.dirs.slice(0, depth).join('/');
        if (compile(prefix).test(rel)) return false;
      }
    }
    return true;
  }
}
