// Word expansion for Dockerfile arguments with BuildKit's shell-lexer
// semantics: single quotes are literal; double quotes expand `$` and let the
// escape token escape `"`, `$` and itself; outside quotes the escape token
// escapes any character. Substitutions: `$VAR`, `${VAR}`, `${VAR:-w}`,
// `${VAR:+w}`, `${VAR:?msg}`, `${VAR?msg}` (`w` is itself expanded);
// positional and special parameters ($1, $@, $#…) are never set. Expanded
// text splits into words on whitespace, quoted text does not. Pure.

export class ShellExpansionError extends Error {}

type Env = ReadonlyMap<string, string>;

const EOF = '';
const SPECIAL = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);
const isSpace = (ch: string): boolean => /^\s$/u.test(ch);
const isLetter = (ch: string): boolean => /^\p{L}$/u.test(ch);
const isDigit = (ch: string): boolean => /^\p{Nd}$/u.test(ch);

/** Accumulates expansion output into words: expanded `$` text splits on spaces, quoted text does not. */
class Words {
  private word = '';
  private words: string[] = [];
  private inWord = false;

  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.inWord && this.word.length !== 0) {
        this.words.push(this.word);
        this.word = '';
        this.inWord = false;
      }
    } else this.addRawChar(ch);
  }

  addRawChar(ch: string): void {
    this.word += ch;
    this.inWord = true;
  }

  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }

  addRawString(s: string): void {
    this.word += s;
    this.inWord = true;
  }

  result(): string[] {
    if (this.word.length > 0) {
      this.words.push(this.word);
      this.word = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class Lexer {
  private pos = 0;
  private readonly chars: string[];

  constructor(src: string, private readonly env: Env, private readonly esc: string) {
    this.chars = Array.from(src);
  }

  private peek(): string {
    return this.chars[this.pos] ?? EOF;
  }

  private next(): string {
    const ch = this.chars[this.pos] ?? EOF;
    if (ch !== EOF) this.pos++;
    return ch;
  }

  /** Reads until `stop` (consumed) or end of input (stop = EOF). */
  processStopOn(stop: string): { text: string; words: string[] } {
    let text = '';
    const words = new Words();
    while (this.peek() !== EOF) {
      const ch = this.peek();
      if (stop !== EOF && ch === stop) {
        this.next();
        return { text, words: words.result() };
      }
      if (ch === "'" || ch === '"' || ch === '$') {
        const part = ch === "'" ? this.singleQuote() : ch === '"' ? this.doubleQuote() : this.dollar();
        text += part;
        if (ch === '$') words.addString(part);
        else words.addRawString(part);
        continue;
      }
      let c = this.next();
      if (c === this.esc) {
        c = this.next();
        if (c === EOF) break;
        words.addRawChar(c);
      } else words.addChar(c);
      text += c;
    }
    if (stop !== EOF) throw new ShellExpansionError(`unexpected end of statement while looking for matching ${stop}`);
    return { text, words: words.result() };
  }

  /** Heredoc body: only `$` expands; the escape token escapes `$` and itself; quotes are plain text. */
  heredoc(): string {
    let out = '';
    while (this.peek() !== EOF) {
      const ch = this.peek();
      if (ch === '$') { out += this.dollar(); continue; }
      this.next();
      if (ch === this.esc && (this.peek() === '$' || this.peek() === this.esc)) { out += this.next(); continue; }
      out += ch;
    }
    return out;
  }

  private singleQuote(): string {
    this.next();
    let out = '';
    for (;;) {
      const ch = this.next();
      if (ch === EOF) throw new ShellExpansionError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return out;
      out += ch;
    }
  }

  private doubleQuote(): string {
    this.next();
    let out = '';
    for (;;) {
      const ch = this.peek();
      if (ch === EOF) throw new ShellExpansionError('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') { this.next(); return out; }
      if (ch === '$') { out += this.dollar(); continue; }
      let c = this.next();
      if (c === this.esc) {
        const p = this.peek();
        if (p === EOF) continue;
        if (p === '"' || p === '$' || p === this.esc) c = this.next();
      }
      out += c;
    }
  }

  private name(): string {
    let name = '';
    while (this.peek() !== EOF) {
      const ch = this.peek();
      if (name === '' && isDigit(ch)) {
        while (isDigit(this.peek())) name += this.next();
        return name;
      }
      if (name === '' && SPECIAL.has(ch)) return this.next();
      if (!isLetter(ch) && !isDigit(ch) && ch !== '_') break;
      name += this.next();
    }
    return name;
  }

  private lookup(name: string): string | undefined {
    return this.env.get(name);
  }

  private stopOnBrace(): string {
    try {
      return this.processStopOn('}').text;
    } catch (e) {
      if (this.peek() === EOF) throw new ShellExpansionError("syntax error: missing '}'");
      throw e;
    }
  }

  private dollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.name();
      if (name === '') return '$';
      return this.lookup(name) ?? '';
    }
    this.next();
    const first = this.peek();
    if (first === EOF) throw new ShellExpansionError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new ShellExpansionError('syntax error: bad substitution');
    const name = this.name();
    const ch = this.next();
    if (ch === '}') return this.lookup(name) ?? '';
    if (ch === '?') {
      const word = this.stopOnBrace();
      const v = this.lookup(name);
      if (v === undefined) throw new ShellExpansionError(`${name}: ${word || 'is not allowed to be unset'}`);
      return v;
    }
    if (ch === ':') {
      const modifier = this.next();
      const word = this.stopOnBrace();
      const v = this.lookup(name);
      switch (modifier) {
        case '+': return v ? word : '';
        case '-': return v ? v : word;
        case '?':
          if (v === undefined) throw new ShellExpansionError(`${name}: ${word || 'is not allowed to be unset'}`);
          if (v === '') throw new ShellExpansionError(`${name}: ${word || 'is not allowed to be empty'}`);
          return v;
        default:
          throw new ShellExpansionError(`unsupported modifier (${modifier}) in substitution`);
      }
    }
    throw new ShellExpansionError(`unsupported modifier (${ch}) in substitution`);
  }
}

function toMap(env: Env | Record<string, string> | string[]): Env {
  if (env instanceof Map) return env;
  if (Array.isArray(env)) {
    const m = new Map<string, string>();
    for (const kv of env) {
      const eq = kv.indexOf('=');
      if (eq < 0) m.set(kv, '');
      else m.set(kv.slice(0, eq), kv.slice(eq + 1));
    }
    return m;
  }
  return new Map(Object.entries(env));
}

/** Expands one word (quotes removed, no splitting). Throws ShellExpansionError. */
export function expandWord(src: string, env: Env | Record<string, string> | string[], esc = '\\'): string {
  try {
    return new Lexer(src, toMap(env), esc).processStopOn(EOF).text;
  } catch (e) {
    if (e instanceof ShellExpansionError) throw new ShellExpansionError(`failed to process ${JSON.stringify(src)}: ${e.message}`);
    throw e;
  }
}

/** Expands and splits into words on unquoted whitespace. Throws ShellExpansionError. */
export function expandWords(src: string, env: Env | Record<string, string> | string[], esc = '\\'): string[] {
  try {
    return new Lexer(src, toMap(env), esc).processStopOn(EOF).words;
  } catch (e) {
    if (e instanceof ShellExpansionError) throw new ShellExpansionError(`failed to process ${JSON.stringify(src)}: ${e.message}`);
    throw e;
  }
}

/** Expands the body of an unquoted heredoc (COPY <<EOF): `$VAR`, `${VAR…}`; quotes stay as written. */
export function expandHeredoc(src: string, env: Env | Record<string, string> | string[], esc = '\\'): string {
  try {
    return new Lexer(src, toMap(env), esc).heredoc();
  } catch (e) {
    if (e instanceof ShellExpansionError) throw new ShellExpansionError(`failed to process heredoc: ${e.message}`);
    throw e;
  }
}
