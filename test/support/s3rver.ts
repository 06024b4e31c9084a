import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../runtime/aws/s3.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalS3 as startStrictS3 } from '../../runtime/local/local-s3.ts';

export interface LocalS3 {
  endpoint: string;
  client: S3Client;
  bucket: string;
  stop(): Promise<void>;
}

/**
 * The project's local S3 (s3rver behind a proxy that is as strict as S3 where the code relies on
 * it: conditional writes, presigned-URL signatures, no aws-chunked bodies; runtime/local/local-s3.ts)
 * on 127.0.0.1 with one bucket, and a client with its credentials.
 */
export async function startLocalS3(bucket = 'results', o: { denyWrite?: (bucketAndKey: string) => boolean } = {}): Promise<LocalS3> {
  const s3 = await startStrictS3({ buckets: [bucket], denyWrite: o.denyWrite });
  const client = createS3Client({ endpoint: s3.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  return {
    endpoint: s3.endpoint,
    client,
    bucket,
    async stop() {
      client.destroy();
      await s3.stop();
    },
  };
}
