import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
// @ts-expect-error s3rver ships no types
import S3rver from 's3rver';
import { createS3Client } from '../../runtime/aws/s3.ts';

export interface LocalS3 {
  endpoint: string;
  client: S3Client;
  bucket: string;
  stop(): Promise<void>;
}

/** s3rver on 127.0.0.1 (free port, temp dir) with one bucket, and a client with fake credentials. */
export async function startLocalS3(bucket = 'results'): Promise<LocalS3> {
  const directory = await mkdtemp(join(tmpdir(), 'ib-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
  const addr = (await server.run()) as { address: string; port: number };
  const endpoint = `http://127.0.0.1:${addr.port}`;
  const client = createS3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  return {
    endpoint,
    client,
    bucket,
    async stop() {
      client.destroy();
      await new Promise<void>((res) => server.close(() => res()));
      await rm(directory, { recursive: true, force: true });
    },
  };
}
