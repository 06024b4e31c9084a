import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { PromptPlan } from './prompts.ts';

/**
 * The run's calibrated prompts on disk, in schedule order: written while calibrating before the
 * run, read back one at a time as the load loop reaches each request. Memory then holds a read
 * buffer, not every prompt of the run (at 100 req/s for 10 minutes that would be 60,000 prompts of
 * a few kB each). The file lives in the temp folder (the Job's emptyDir at /tmp), never in the run's
 * directory, and is removed with the run.
 */
export class PromptSpool {
  private error: Error | undefined;
  private reader: ReturnType<typeof createInterface> | undefined;

  private constructor(
    private readonly dir: string,
    private readonly out: WriteStream,
  ) {
    // A full disk (or a spool removed under an abandoned calibration) fails the next write, not the process.
    out.on('error', (e) => (this.error ??= e));
  }

  static async create(): Promise<PromptSpool> {
    const dir = await mkdtemp(join(tmpdir(), 'ib-prompts-'));
    return new PromptSpool(dir, createWriteStream(join(dir, 'plans.ndjson')));
  }

  async write(plan: PromptPlan): Promise<void> {
    if (this.error || this.out.destroyed) throw this.error ?? new Error('the prompt spool was removed');
    if (this.out.write(`${JSON.stringify(plan)}\n`)) return;
    // Backpressure: wait for the file to drain (or to be closed under us), leaving no listener behind.
    await new Promise<void>((resolve) => {
      const go = (): void => {
        this.out.off('drain', go);
        this.out.off('close', go);
        resolve();
      };
      this.out.on('drain', go);
      this.out.on('close', go);
    });
  }

  async close(): Promise<void> {
    const closed = once(this.out, 'close');
    this.out.end();
    await closed;
    if (this.error) throw this.error;
  }

  /** The plans in the order they were written; call after `close`. */
  read(): { next(): Promise<PromptPlan | undefined> } {
    const rl = createInterface({ input: createReadStream(join(this.dir, 'plans.ndjson')), crlfDelay: Infinity });
    this.reader = rl;
    const lines = rl[Symbol.asyncIterator]();
    return {
      next: async () => {
        const r = await lines.next();
        return r.done ? undefined : (JSON.parse(r.value) as PromptPlan);
      },
    };
  }

  async remove(): Promise<void> {
    this.out.destroy();
    this.reader?.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}
