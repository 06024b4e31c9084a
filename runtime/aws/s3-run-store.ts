import type { S3Client } from '@aws-sdk/client-s3';
import { assertDerived, type RunStore, type StoreEntry } from '../core/ports/run-store.ts';
import type { DerivedFile } from '../core/run-layout.ts';
import { formatS3Url, getObjectStream, getObjectText, listObjects, putObject, type S3Location } from './s3.ts';

/** A run's S3 prefix as a RunStore: keys relative to the prefix; writes only the derived files. */
export class S3RunStore implements RunStore {
  readonly location: string;

  constructor(
    private readonly client: S3Client,
    private readonly loc: S3Location,
  ) {
    this.location = formatS3Url(loc);
  }

  async list(): Promise<StoreEntry[]> {
    const out: StoreEntry[] = [];
    for await (const o of listObjects(this.client, this.loc.bucket, this.loc.prefix)) {
      const key = o.key.slice(this.loc.prefix.length);
      if (key.length === 0 || key.endsWith('/')) continue;
      out.push({ key, size: o.size, lastModifiedMs: o.lastModifiedMs });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  open(key: string): Promise<NodeJS.ReadableStream> {
    return getObjectStream(this.client, this.loc.bucket, this.loc.prefix + key);
  }

  readText(key: string): Promise<string> {
    return getObjectText(this.client, this.loc.bucket, this.loc.prefix + key);
  }

  /** One PutObject: S3 replaces an object whole, so a failed write never leaves half of one. */
  async writeDerived(name: DerivedFile, body: string, contentType: string): Promise<string> {
    assertDerived(name);
    await putObject(this.client, this.loc.bucket, this.loc.prefix + name, body, { contentType });
    return `${this.location}${name}`;
  }

  /** Key of a run file relative to the bucket (what the Step Functions contract returns). */
  keyOf(name: string): string {
    return this.loc.prefix + name;
  }
}
