import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { createGzip, type Gzip } from 'node:zlib';
import type { RequestRecord } from '../core/records/record.ts';
import { shardFileName } from '../core/records/record.ts';

/**
 * Appends records to `requests/shard-<index>-<part>.ndjson.gz`, one JSON object per line, starting a
 * new part every `recordsPerPart` records so no single object grows without bound and a crash loses
 * at most the part being written. Files are created with the `wx` flag: an existing raw file is never
 * overwritten.
 */
export class ShardWriter {
  private gzip: Gzip | undefined;
  private file: WriteStream | undefined;
  private inPart = 0;
  private part = -1;
  readonly parts: string[] = [];
  records = 0;

  constructor(
    private readonly requestsDir: string,
    private readonly shard: number,
    private readonly recordsPerPart = 50_000,
  ) {}

  write(record: RequestRecord): void {
    if (!this.gzip || this.inPart >= this.recordsPerPart) this.rotate();
    this.gzip!.write(`${JSON.stringify(record)}\n`);
    this.inPart += 1;
    this.records += 1;
  }

  /** Finishes the current part; resolves once every byte is on disk. */
  async close(): Promise<void> {
    await this.finishPart();
  }

  private rotate(): void {
    void this.finishPart();
    this.part += 1;
    const name = shardFileName(this.shard, this.part);
    this.parts.push(name);
    this.file = createWriteStream(join(this.requestsDir, name), { flags: 'wx' });
    this.gzip = createGzip();
    this.gzip.pipe(this.file);
    this.inPart = 0;
  }

  private pending: Promise<void>[] = [];

  private finishPart(): Promise<void> {
    const gzip = this.gzip;
    const file = this.file;
    this.gzip = undefined;
    this.file = undefined;
    if (gzip && file) {
      const done = once(file, 'close').then(() => undefined);
      gzip.end();
      this.pending.push(done);
    }
    return Promise.all(this.pending).then(() => undefined);
  }
}
