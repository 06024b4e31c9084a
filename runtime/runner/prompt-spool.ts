import { once } from 'node:events';
import { createWriteStream, readdirSync, rmSync, type WriteStream } from 'node:fs';
import { mkdtemp, open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PromptPlan } from './prompts.ts';

/**
 * The run's calibrated prompts on disk, in schedule order: written while calibrating before the
 * run, read back one at a time as the load loop reaches each request. Memory then holds a read
 * buffer, not every prompt of the run (at 100 req/s for 10 minutes that would be 60,000 prompts of
 * a few kB each). The file lives in the temp folder (the Job's emptyDir at /tmp), never in the run's
 * directory, and is removed with the run.
 *
 * A run that does not reach its `finally` must not leave it behind either: a process that exits
 * while the spool exists (a second Ctrl-C calls process.exit) removes it in an 'exit' listener,
 * and one killed outright (SIGKILL, OOM) leaves its pid in the folder's name, so the next spool
 * created on the machine removes it once that process is gone.
 */
export class PromptSpool {
  private error: Error | undefined;
  private reader: LineReader | undefined;
  // 'exit' listeners must be synchronous: nothing awaited there runs.
  private readonly onExit = (): void => rmSync(this.dir, { recursive: true, force: true });

  private constructor(
    private readonly dir: string,
    private readonly out: WriteStream,
  ) {
    // A full disk (or a spool removed under an abandoned calibration) fails the next write, not the process.
    out.on('error', (e) => (this.error ??= e));
    process.on('exit', this.onExit);
  }

  static async create(): Promise<PromptSpool> {
    const parent = tmpdir();
    await removeStaleSpools(parent);
    const dir = await mkdtemp(join(parent, `${SPOOL_PREFIX}${process.pid}-`));
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
    const lines = new LineReader(join(this.dir, 'plans.ndjson'));
    this.reader = lines;
    return {
      next: async () => {
        const line = await lines.next();
        return line === undefined ? undefined : (JSON.parse(line) as PromptPlan);
      },
    };
  }

  async remove(): Promise<void> {
    process.off('exit', this.onExit);
    this.out.destroy();
    await this.reader?.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * A file's lines, read a block at a time. Not readline: its async iterator reads ahead up to 1,024
 * lines, and at a few kB per prompt those lines (and the 64 kB chunks they are sliced from) then
 * wait seconds for their turn — long enough for V8 to move every one to the old generation, which a
 * major collection on the load loop then has to clear (BENCHMARKS.md §1, "The runner's own work per
 * token"). Here a line is decoded only when asked for, and a block holds a dozen prompts. The next
 * block is read in the background once less than half of one is left, so the load loop, which asks
 * for the next prompt right after a send, does not wait for the disk (and its file-system round
 * trip through a loop turn) before the following send.
 */
class LineReader {
  private file: FileHandle | undefined;
  private buf = Buffer.allocUnsafe(64 * 1024);
  /** Unread bytes: `[start, end)` of `buf`; a read in flight writes after `end`. */
  private start = 0;
  private end = 0;
  private eof = false;
  private closed = false;
  private reading: Promise<void> | undefined;
  private error: Error | undefined;

  constructor(private readonly path: string) {}

  async next(): Promise<string | undefined> {
    for (;;) {
      if (this.error) throw this.error;
      const nl = this.buf.indexOf(10, this.start);
      // indexOf looks past `end` too, into bytes of an earlier block.
      if (nl !== -1 && nl < this.end) {
        const line = this.buf.toString('utf8', this.start, nl);
        this.start = nl + 1;
        if (this.end - this.start < this.buf.length / 2) this.readAhead();
        return line;
      }
      if (this.reading) await this.reading;
      else if (this.eof) {
        if (this.start === this.end) return undefined;
        const last = this.buf.toString('utf8', this.start, this.end);
        this.start = this.end;
        return last;
      } else await this.readAhead();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.eof = true;
    await this.reading;
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }

  /** Starts reading the next block unless one is being read or the file is done; never rejects (next() throws the error). */
  private readAhead(): Promise<void> | undefined {
    if (this.reading || this.eof) return this.reading;
    this.reading = this.fill()
      .catch((err: unknown) => void (this.error = err as Error))
      .finally(() => (this.reading = undefined));
    return this.reading;
  }

  /** Moves the unread bytes to the front (growing the block for a line longer than it) and reads after them. */
  private async fill(): Promise<void> {
    if (this.start > 0) {
      this.buf.copy(this.buf, 0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
    }
    if (this.end === this.buf.length) {
      const bigger = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(bigger, 0, 0, this.end);
      this.buf = bigger;
    }
    if (!this.file) {
      const file = await open(this.path, 'r');
      // Closed while it opened (the spool removed): nothing more is read.
      if (this.closed) return void (await file.close());
      this.file = file;
    }
    const { bytesRead } = await this.file.read(this.buf, this.end, this.buf.length - this.end, null);
    if (bytesRead === 0) this.eof = true;
    else this.end += bytesRead;
  }
}

const SPOOL_PREFIX = 'ib-prompts-';
const SPOOL_NAME = /^ib-prompts-(\d+)-[^-]+$/;

/**
 * Removes the spools in `parent` whose process no longer exists (killed before it could clean up);
 * returns their paths. A spool of a live process — this one's other threads, another run — is
 * left alone. Best effort: whatever cannot be removed (another user's) stays, and never fails a run.
 */
export async function removeStaleSpools(parent: string): Promise<string[]> {
  const names = await readdir(parent).catch(() => [] as string[]);
  const stale = names.filter((n) => {
    const pid = SPOOL_NAME.exec(n)?.[1];
    return pid !== undefined && Number(pid) !== process.pid && !processAlive(Number(pid));
  });
  const removed = await Promise.all(stale.map((n) => rm(join(parent, n), { recursive: true, force: true }).then(() => join(parent, n), () => null)));
  return removed.filter((p): p is string => p !== null);
}

/**
 * Removes, synchronously, every spool of this process: its worker threads' too, which share its pid.
 * For an 'exit' listener of the main thread of a runner with worker threads (runner/workers.ts): a
 * thread's own 'exit' listeners do not run when the main thread ends the process (a second Ctrl-C),
 * so without this its threads' spools wait for the next run's `removeStaleSpools`.
 */
export function removeThisProcessSpools(parent: string = tmpdir()): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const n of names) if (SPOOL_NAME.exec(n)?.[1] === String(process.pid)) rmSync(join(parent, n), { recursive: true, force: true });
}

/**
 * Signal 0 checks that a process exists without touching it: ESRCH means gone; EPERM means it
 * exists under another user. A reused pid keeps a stale spool until that process ends too.
 */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
