import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { parseS3Url, putObject } from '../../aws/s3.ts';

/** Uploads completed raw files one at a time while the run goes on; failures are left to the final upload. */
export class EarlyUploads {
  private chain: Promise<void> = Promise.resolve();
  uploaded = 0;

  constructor(
    private readonly client: S3Client,
    private readonly dir: string,
    private readonly dest: string,
    private readonly note: (line: string) => void,
  ) {}

  add(rel: string): void {
    const { bucket, prefix } = parseS3Url(this.dest);
    this.chain = this.chain.then(async () => {
      try {
        await putObject(this.client, bucket, prefix + rel, await readFile(join(this.dir, rel)), { ifNoneMatch: true });
        this.uploaded += 1;
      } catch (err) {
        this.note(`upload of ${rel} failed (${(err as Error).message}); retrying at the end`);
      }
    });
  }

  settled(): Promise<void> {
    return this.chain;
  }
}
