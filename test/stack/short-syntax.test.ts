// compose-go/derived/short-syntax-cases.yaml: short volume and port syntax → long form.
import test from 'ava';
import { parsePortShort } from '../../src/stack/ports.js';
import { formatPortRange } from '../../src/model/format.js';
import { parseVolumeShort } from '../../src/stack/volumes.js';
import { deepEqual, haveConformance, readTable, Tally, type KnownFailures } from './conformance.js';

interface VolCase {
  source: string;
  input?: string;
  windows?: boolean;
  expected?: Record<string, unknown>;
  error_equals?: string;
  error_contains?: string;
  ok?: boolean;
  long_form?: unknown;
  short_string?: string;
}
interface PortCase {
  source: string;
  input?: string;
  input_list?: string[];
  input_long?: Record<string, unknown>;
  expected?: Record<string, unknown>[];
  error_equals?: string;
  expected_unchanged?: boolean;
}

/** `volume: {}` vs absent is a Go nil-pointer detail; drop empty sub-objects on both sides. */
function dropEmpty(v: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(v).filter(([, x]) => !(typeof x === 'object' && x !== null && Object.keys(x).length === 0)));
}

const KNOWN: KnownFailures = {};
const tally = new Tally('short-syntax');

function check(t: import('ava').ExecutionContext, id: string, ok: boolean, detail: string): void {
  tally.record(id, ok, KNOWN[id]);
  if (KNOWN[id]) t.false(ok, `known failure now passes: ${id}`);
  else t.true(ok, `${id}: ${detail}`);
}

if (!haveConformance) {
  test.skip('short syntax conformance [skipped: ../shared absent]', () => {});
} else {
  const table = readTable<{ volumes: VolCase[]; ports: PortCase[] }>('compose-go/derived/short-syntax-cases.yaml');
  table.volumes.forEach((c, i) => {
    const id = `volume #${i} ${JSON.stringify(c.input ?? c.short_string)}`;
    if (c.windows) {
      test.skip(`short-syntax ${id} [skipped: a Windows path, not applicable on Linux]`, () => {});
      return;
    }
    if (c.long_form !== undefined) {
      // A rendering case (long → short string) of upstream's; tsstack prints the long form only.
      test(`short-syntax ${id}: short string parses back to the long form`, (t) => {
        check(t, id, deepEqual(dropEmpty(parseVolumeShort(c.short_string!) as unknown as Record<string, unknown>), dropEmpty(c.long_form as Record<string, unknown>)), 'round trip');
      });
      return;
    }
    test(`short-syntax ${id}`, (t) => {
      try {
        const got = parseVolumeShort(c.input!) as unknown as Record<string, unknown>;
        if (c.error_equals || c.error_contains) return check(t, id, false, `no error: ${JSON.stringify(got)}`);
        check(t, id, c.ok === true || deepEqual(dropEmpty(got), dropEmpty(c.expected!)), JSON.stringify(got));
      } catch (e) {
        const m = (e as Error).message;
        check(t, id, c.error_equals ? m === c.error_equals : c.error_contains ? m.includes(c.error_contains) : false, m);
      }
    });
  });
  table.ports.forEach((c, i) => {
    const id = `port #${i} ${JSON.stringify(c.input ?? c.input_list ?? c.input_long)}`;
    test(`short-syntax ${id}`, (t) => {
      try {
        let got: unknown[];
        if (c.input_long) {
          // Long syntax gets the defaults mode=ingress, protocol=tcp.
          got = [{ mode: 'ingress', protocol: 'tcp', ...c.input_long }];
        } else if (c.expected_unchanged) {
          // Uninterpolated text: a parse error is tolerated before interpolation.
          try {
            parsePortShort(c.input!);
            return check(t, id, false, 'parsed unexpectedly');
          } catch {
            return check(t, id, true, '');
          }
        } else {
          // compose-go keeps `published` a string; ours is a numeric range, written back as compose-go does.
          got = (c.input_list ?? [c.input!]).flatMap((s) => parsePortShort(s)).map((p) => (p.published ? { ...p, published: formatPortRange(p.published) } : p));
        }
        if (c.error_equals) return check(t, id, false, `no error: ${JSON.stringify(got)}`);
        check(t, id, deepEqual(got, c.expected), JSON.stringify(got));
      } catch (e) {
        const m = (e as Error).message;
        check(t, id, c.error_equals !== undefined && m === c.error_equals, m);
      }
    });
  });
  test.after.always(() => console.log(tally.summary()));
}
