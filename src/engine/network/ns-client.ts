// The engine's handle on its namespace worker: one lazily started worker
// thread, jobs answered in order, the thread not keeping the process alive
// while idle.

import { Worker } from 'node:worker_threads';
import type { NsJob, NsResponse } from './ns-jobs.js';

export class NsWorkerError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
  }
}

export class NsClient {
  private worker?: Worker;
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('./ns-worker.js', import.meta.url));
    w.on('message', (res: NsResponse) => {
      const p = this.pending.get(res.id);
      if (!p) return;
      this.pending.delete(res.id);
      if (this.pending.size === 0) w.unref();
      if (res.ok) p.resolve(res.result);
      else p.reject(new NsWorkerError(res.message, res.code));
    });
    const fail = (e: Error) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
      this.worker = undefined;
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`namespace worker exited with code ${code}`)));
    w.unref();
    this.worker = w;
    return w;
  }

  run<T = void>(job: NsJob): Promise<T> {
    const w = this.start();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      w.ref();
      w.postMessage({ id, job });
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
