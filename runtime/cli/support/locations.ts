import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { FsRunStore } from '../../aggregator/fs-run-store.ts';
import { fsHistoryFor } from '../../aggregator/fs-history-store.ts';
import { checkBucket } from '../../aws/s3-access.ts';
import { s3HistoryFor } from '../../aws/s3-history-store.ts';
import { S3RunStore } from '../../aws/s3-run-store.ts';
import { createS3Client, parseS3Url } from '../../aws/s3.ts';
import { InputError } from '../../core/errors.ts';
import type { HistoryFor } from '../../core/ports/history-store.ts';
import type { RunStore } from '../../core/ports/run-store.ts';
import { historyRootOf } from '../../core/run-layout.ts';

/**
 * A run named on the command line — a directory or an s3:// prefix — as a store to read, and the
 * history of its series (beside it: see core/run-layout.ts historyRootOf). One S3 client per command.
 */
export class RunLocations {
  private client: S3Client | undefined;

  constructor(private readonly endpoint?: string) {}

  s3(): S3Client {
    this.client ??= createS3Client(this.endpoint ? { endpoint: this.endpoint } : {});
    return this.client;
  }

  async run(location: string): Promise<{ store: RunStore; history: HistoryFor }> {
    if (location.startsWith('s3://')) {
      const loc = parseS3Url(location);
      await checkBucket(this.s3(), loc, this.endpoint);
      return { store: new S3RunStore(this.s3(), loc), history: s3HistoryFor(this.s3(), loc.bucket, historyRootOf(loc.prefix)) };
    }
    const dir = resolve(location);
    const info = await stat(dir).catch(() => null);
    if (!info?.isDirectory()) {
      throw new InputError(location, [info ? 'is a file, not a run directory' : 'does not exist'], 'pass the directory of an aggregated run (the one holding summary.json), or an s3://bucket/prefix URL.');
    }
    return { store: new FsRunStore(dir), history: fsHistoryFor(historyRootOf(dir) || '.') };
  }

  close(): void {
    this.client?.destroy();
  }
}
