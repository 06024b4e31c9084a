import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { constants as zlib, gzipSync } from 'node:zlib';
import { OperationFailed } from '../core/errors.ts';
import type { RequestRecord } from '../core/records/record.ts';
import { requestsPath, shardPartName } from '../core/run-layout.ts';

export interface ShardWriterOptions {
  /** Start a new part after this many records (no object grows without bound). */
  recordsPerPart?: number;
  /** …or when the current part has been open this long, so finished parts leave the machine soon. */
  partMs?: number;
  clock?: () => number;
  /** Called with `requests/<name>` once a part is complete on disk (e.g. to upload it at once). */
  onPartClosed?: (relPath: string) => void;
  /** A record could not be written (a full disk): the runner stops sending, since nothing more would be kept. */
  onError?: (err: Error) => void;
}

/**
 * Appends records to `requests/shard-<index>-<part>.ndjson.gz`, one JSON object per line. Each
 * record is written the moment its request completes, as its own gzip member (a gzip file may hold
 * many; every reader decodes them in turn), with a synchronous write: once a request is recorded,
 * its bytes are in the file, so a crash, a kill or a second Ctrl-C loses at most the requests still
 * in flight, and a part is always readable up to its last complete record. A new part starts every
 * `recordsPerPart` records or `partMs` milliseconds. Files are created with `wx`: an existing raw
 * file is never overwritten.
 */
/**
 * Zlib's fastest level: each member is compressed on the load loop, in a request's completion, so
 * its time is a delay for whatever that loop does next. Against the default level it takes half the
 * CPU (26 against 51 µs for a 128-token record, 244 against 684 µs for 2,048 tokens) for 3–8 % more
 * bytes (887 against 865).
 *
 * A 4 kB window and a small hash (memLevel 4): zlib's defaults allocate ~260 kB per compressor and
 * clear 64 kB of it, and every record gets a new compressor. A record is a few kilobytes, so the
 * larger window finds nothing more (796 bytes either way for 128 tokens; 11.1 against 12.0 kB for
 * 2,048): ~20 kB per record allocated instead, for the same bytes.
 */
const MEMBER_OPTIONS = { level: zlib.Z_BEST_SPEED, windowBits: 12, memLevel: 4 };

export class ShardWriter {
  private fd: number | undefined;
  private inPart = 0;
  private part = -1;
  private partOpenedAt = 0;
  readonly parts: string[] = [];
  records = 0;
  /** Bytes written (compressed), for the benchmarks. */
  bytes = 0;
  private error: Error | undefined;
  /** Records that completed after a write failed, so were never written. */
  private lost = 0;
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

  /** Never throws (it runs in a request's completion): a failed write stops writing and fails `close()`. */
  write(record: RequestRecord): void {
    if (this.error) {
      this.lost += 1;
      return;
    }
    try {
      if (this.fd === undefined || this.inPart >= this.recordsPerPart || this.clock() - this.partOpenedAt >= this.partMs) this.rotate();
      const member = gzipSync(`${JSON.stringify(record)}\n`, MEMBER_OPTIONS);
      writeSync(this.fd!, member);
      this.bytes += member.length;
      this.inPart += 1;
      this.records += 1;
    } catch (err) {
      this.error = err as Error;
      this.o.onError?.(this.error);
    }
  }



  /** Finishes the current part; throws, naming the file, if a record could not be written. */
  async close(): Promise<void> {
    this.finishPart();
    if (this.error) {
      const file = requestsPath(this.parts[this.parts.length - 1] ?? shardPartName(this.shard, 0));
      const code = (this.error as NodeJS.ErrnoException).code;
      const kept = this.records > 0 ? `the ${this.records} record(s) written before it are kept in ${file}` : 'no record could be written';
      // Not the user's input: the run was measured and the machine could not keep it (exit 1).
      throw new OperationFailed(
        `${file}: a request record could not be written (${this.error.message}), so the run stopped sending: ${kept}; ${this.lost + 1} measured request(s) could not be recorded.\nFix: ${code === 'ENOSPC' ? 'free disk space (or choose another --out) and run again.' : 'check the output directory and run again.'}`,
      );
    }
  }

  private rotate(): void {
    this.finishPart();
    this.part += 1;
    const name = shardPartName(this.shard, this.part);
    this.fd = openSync(join(this.requestsDir, name), 'wx');
    this.parts.push(name);
    this.inPart = 0;
    this.partOpenedAt = this.clock();
  }

  private finishPart(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
    if (!this.error) this.o.onPartClosed?.(requestsPath(this.parts[this.parts.length - 1]!));
  }
}
