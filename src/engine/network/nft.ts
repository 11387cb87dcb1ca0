// libnftables over FFI: JSON commands in, JSON out. Each `run` is one netlink
// transaction: all of its commands apply, or none. A context talks to the
// network namespace of the thread that created it, so the engine keeps one per
// NetworkManager, used from the main thread only (the library is not thread-safe).

import koffi from 'koffi';
import { TsstackError } from '../../util/errors.js';
import { withSignalsHeld } from './libc.js';

const NFT_CTX_OUTPUT_JSON = 1 << 4;

interface NftLib {
  ctxNew(flags: number): unknown;
  ctxFree(ctx: unknown): void;
  setFlags(ctx: unknown, flags: number): void;
  bufOut(ctx: unknown): number;
  bufErr(ctx: unknown): number;
  run(ctx: unknown, buf: string): number;
  out(ctx: unknown): string | null;
  err(ctx: unknown): string | null;
}

let lib: NftLib | undefined;

function load(): NftLib {
  if (lib) return lib;
  let l: ReturnType<typeof koffi.load>;
  try {
    l = koffi.load('libnftables.so.1');
  } catch (e) {
    throw new TsstackError('HOST', 'libnftables is not installed (could not load libnftables.so.1)', { hint: 'apt-get install libnftables1', cause: e });
  }
  lib = {
    ctxNew: l.func('void *nft_ctx_new(uint32_t flags)'),
    ctxFree: l.func('void nft_ctx_free(void *ctx)'),
    setFlags: l.func('void nft_ctx_output_set_flags(void *ctx, unsigned int flags)'),
    bufOut: l.func('int nft_ctx_buffer_output(void *ctx)'),
    bufErr: l.func('int nft_ctx_buffer_error(void *ctx)'),
    run: l.func('int nft_run_cmd_from_buffer(void *ctx, const char *buf)'),
    out: l.func('const char *nft_ctx_get_output_buffer(void *ctx)'),
    err: l.func('const char *nft_ctx_get_error_buffer(void *ctx)'),
  };
  return lib;
}

export type NftCommand = Record<string, unknown>;
export type NftObject = Record<string, any>;

export class Nft {
  private ctx: unknown;

  private context(): unknown {
    if (this.ctx) return this.ctx;
    const n = load();
    const ctx = n.ctxNew(0);
    if (!ctx) throw new TsstackError('HOST', 'nft_ctx_new failed', { hint: 'check that the nf_tables kernel module is available' });
    n.setFlags(ctx, NFT_CTX_OUTPUT_JSON);
    n.bufOut(ctx);
    n.bufErr(ctx);
    this.ctx = ctx;
    return ctx;
  }

  /** Runs one batch; returns the parsed JSON output objects (empty when there is none). */
  run(commands: NftCommand[]): NftObject[] {
    const n = load();
    const ctx = this.context();
    // libnftables waits for the kernel's acknowledgements in select(), which no signal handler's SA_RESTART
    // resumes: a signal Node handles (SIGCHLD while children are awaited, SIGINT, SIGWINCH) arriving in that
    // wait failed the batch with "Interrupted system call", although the kernel may have committed it
    const rc = withSignalsHeld(() => n.run(ctx, JSON.stringify({ nftables: commands })));
    const out = n.out(ctx) ?? '';
    const err = n.err(ctx) ?? '';
    if (rc !== 0) {
      const lines = err.split('\n').filter((l) => l.trim());
      throw new TsstackError('NETWORK', `nftables rejected the tsstack ruleset: ${lines[0] ?? `nft_run_cmd_from_buffer returned ${rc}`}`, {
        hint: 'check that the kernel has nf_tables with nat support (modprobe nf_tables nft_nat)',
        details: lines,
      });
    }
    return out.trim() ? ((JSON.parse(out) as { nftables: NftObject[] }).nftables ?? []) : [];
  }

  /** The listing of one table, or undefined when it does not exist. */
  listTable(family: string, name: string): NftObject[] | undefined {
    const tables = this.run([{ list: { tables: { family } } }]).filter((o) => o.table?.name === name);
    if (tables.length === 0) return undefined;
    return this.run([{ list: { table: { family, name } } }]);
  }

  close(): void {
    if (this.ctx) load().ctxFree(this.ctx);
    this.ctx = undefined;
  }
}
