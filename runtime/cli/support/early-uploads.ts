import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { contentTypeOf, parseS3Url, putRawObject } from '../../aws/s3.ts';
import { s3SetupProblem } from '../../aws/s3-access.ts';

/**
 * Uploads completed raw files one at a time while the run goes on (a pod that dies mid-run keeps
 * what it sent); a failure is noted and left to the final upload, except through `required()`.
 */
export class EarlyUploads {
  private chain: Promise<void> = Promise.resolve();
  private firstFailure: unknown;
  uploaded = 0;

  constructor(
    private readonly client: S3Client,
    private readonly dir: string,
    private readonly dest: string,
    private readonly note: (line: string) => void,
    private readonly endpoint?: string,
  ) {}

  add(rel: string): void {
    const { bucket, prefix } = parseS3Url(this.dest);
    this.chain = this.chain.then(async () => {
      try {
        if ((await putRawObject(this.client, bucket, prefix + rel, await readFile(join(this.dir, rel)), contentTypeOf(rel))) === 'written') this.uploaded += 1;
      } catch (err) {
        this.firstFailure ??= err;
        this.note(`upload of ${rel} failed (${(err as Error).message.split('\n')[0]}); retrying at the end`);
      }
    });
  }

  /**
   * Waits for what was added so far and fails if any of it could not be written: called before the
   * first request, so a destination that refuses run.json stops the run before it measures.
   */
  async required(): Promise<void> {
    await this.chain;
    if (this.firstFailure !== undefined) throw s3SetupProblem(this.firstFailure, this.dest, this.endpoint) ?? this.firstFailure;
  }

  settled(): Promise<void> {
    return this.chain;
  }
}
