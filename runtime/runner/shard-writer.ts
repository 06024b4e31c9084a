import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { createGzip, type Gzip } from 'node:zlib';
import type { RequestRecord } from '../core/records/record.ts';
import { requestsPath, shardPartName } from '../core/run-layout.ts';

export interface ShardWriterOptions {
  /** Start a new part after this many records (no object grows without bound). */
  recordsPerPart?: number;
  /** …or when the current part has been open this long, so a crash loses at most this much. */
  partMs?: number;
  clock?: () => number;
  /** Called with `requests/<name>` once a part is complete on disk (e.g. to upload it at once). */
  onPartClosed?: (relPath: string) => void;
}

/**
 * Appends records to `requests/shard-<index>-<part>.ndjson.gz`, one JSON object per line, starting a
 * new part every `recordsPerPart` records or `partMs` milliseconds, so a crash loses at most the part
 * being written. Files are created with the `wx` flag: an existing raw file is never overwritten.
 */
export class ShardWriter {
  private gzip: Gzip | undefined;
  private file: WriteStream | undefined;
  private inPart = 0;
  private part = -1;
  readonly parts: string[] = [];
  records = 0;
  private partOpenedAt = 0;
  private readonly recordsPerPart: number;
  private readonly partMs: number;
  private readonly clock: () => number;

  constructor(
    private readonly requestsDir: string,
    private readonly shard: number,
    private readonly o: ShardWriterOptions = {},
  ) {
    this.recordsPerPart = o.recordsPerPart ?? 50_000;
    this.partMs = o.partMs ?? 60_000;
    this.clock = o.clock ?? Date.now;
  }

  write(record: RequestRecord): void {
    if (!this.gzip || this.inPart >= this.recordsPerPart || this.clock() - this.partOpenedAt >= this.partMs) this.rotate();
    this.gzip!.write(`${JSON.stringify(record)}\n`);
    this.inPart += 1;
    this.records += 1;
  }

  /** Finishes the current part; resolves once every byte is on disk, rejects if a part could not be written. */
  async close(): Promise<void> {
    await this.finishPart();
    if (this.error) throw this.error;
  }

  private error: Error | undefined;

  private rotate(): void {
    void this.finishPart();
    this.part += 1;
    const name = shardPartName(this.shard, this.part);
    this.parts.push(name);
    this.file = createWriteStream(join(this.requestsDir, name), { flags: 'wx' });
    this.file.on('error', (err) => (this.error ??= err));
    this.gzip = createGzip();
    this.gzip.pipe(this.file);
    this.inPart = 0;
    this.partOpenedAt = this.clock();
  }

  private pending: Promise<void>[] = [];

  private finishPart(): Promise<void> {
    const gzip = this.gzip;
    const file = this.file;
    this.gzip = undefined;
    this.file = undefined;
    if (gzip && file) {
      const rel = requestsPath(this.parts[this.parts.length - 1]!);
      const done = once(file, 'close').then(() => {
        if (!this.error) this.o.onPartClosed?.(rel);
      });
      gzip.end();
      this.pending.push(done);
    }
    return Promise.all(this.pending).then(() => undefined);
  }
}
