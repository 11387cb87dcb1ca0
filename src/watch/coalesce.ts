// Debounces and coalesces change events into batches, and serialises the work
// done for them: an editor's save-rename-chmod burst becomes one batch, and
// changes that arrive while a batch is being handled queue exactly one more run
// (carrying every path that arrived meanwhile).

export class Coalescer {
  private pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private rerun = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly handle: (paths: string[]) => Promise<void>,
    private readonly quietMs = 100,
  ) {}

  /** Record one changed path. */
  add(path: string): void {
    this.pending.add(path);
    if (this.running) { this.rerun = true; return; }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.timer = undefined; void this.flush(); }, this.quietMs);
  }

  /** Resolves when no batch is pending or running. */
  idle(): Promise<void> {
    if (!this.running && !this.timer && this.pending.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }

  private async flush(): Promise<void> {
    if (this.running) { this.rerun = true; return; }
    this.running = true;
    try {
      do {
        this.rerun = false;
        const batch = [...this.pending].sort();
        this.pending.clear();
        if (batch.length > 0) {
          try { await this.handle(batch); } catch { /* the handler reports its own errors */ }
        }
      } while (this.rerun || this.pending.size > 0);
    } finally {
      this.running = false;
    }
    if (!this.timer) for (const w of this.idleWaiters.splice(0)) w();
  }
}
