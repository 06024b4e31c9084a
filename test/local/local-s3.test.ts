import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presignGetUrl } from '../../runtime/aws/run-files.ts';
import { listObjects } from '../../runtime/aws/s3.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../runtime/local/local-s3.ts';
import { startLocalS3, type LocalS3 } from '../support/s3rver.ts';

let s3: LocalS3;
beforeAll(async () => {
  s3 = await startLocalS3('results');
});
afterAll(async () => {
  await s3.stop();
});

async function errorOf(p: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected the request to fail');
}

describe('the local S3 is as strict as S3 where the code relies on it (stricter than s3rver alone)', () => {
  it('pages ListObjectsV2 as S3 does (s3rver alone answers a truncated V2 listing with 500)', async () => {
    const keys = Array.from({ length: 1203 }, (_, i) => `paged/k-${String(i).padStart(5, '0')}`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((Key) => s3.client.send(new PutObjectCommand({ Bucket: 'results', Key, Body: 'x' }))));
    }
    await s3.client.send(new PutObjectCommand({ Bucket: 'results', Key: 'paged/sub/a', Body: 'x' }));
    const seen: string[] = [];
    for await (const o of listObjects(s3.client, 'results', 'paged/k-')) seen.push(o.key);
    expect(seen).toEqual(keys);
    // One key at a time, with a delimiter: a common prefix counts as a key and pages too.
    const first = await s3.client.send(new ListObjectsV2Command({ Bucket: 'results', Prefix: 'paged/', MaxKeys: 1 }));
    expect(first).toMatchObject({ KeyCount: 1, IsTruncated: true });
    expect(first.Contents?.map((c) => c.Key)).toEqual(['paged/k-00000']);
    const second = await s3.client.send(new ListObjectsV2Command({ Bucket: 'results', Prefix: 'paged/', MaxKeys: 1, ContinuationToken: first.NextContinuationToken }));
    expect(second.Contents?.map((c) => c.Key)).toEqual(['paged/k-00001']);
    const tail = await s3.client.send(new ListObjectsV2Command({ Bucket: 'results', Prefix: 'paged/', Delimiter: '/', StartAfter: 'paged/k-01202' }));
    expect(tail).toMatchObject({ KeyCount: 1, IsTruncated: false });
    expect(tail.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['paged/sub/']);
  });

  it('If-None-Match: * creates once, then answers 412 PreconditionFailed and keeps the first object', async () => {
    const put = (body: string) => s3.client.send(new PutObjectCommand({ Bucket: 'results', Key: 'runs/a/config.yml', Body: body, IfNoneMatch: '*' }));
    await put('first');
    expect(await errorOf(put('second'))).toEqual({ name: 'PreconditionFailed', status: 412 });
    const got = await s3.client.send(new GetObjectCommand({ Bucket: 'results', Key: 'runs/a/config.yml' }));
    expect(await got.Body!.transformToString()).toBe('first');
  });

  it('If-None-Match: * lets exactly one of many concurrent writers win', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => s3.client.send(new PutObjectCommand({ Bucket: 'results', Key: 'claims/race.json', Body: `writer ${i}`, IfNoneMatch: '*' }))),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('If-Match replaces only the object with that ETag, and needs an object', async () => {
    await s3.client.send(new PutObjectCommand({ Bucket: 'results', Key: 'claims/x.json', Body: 'v1' }));
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: 'results', Key: 'claims/x.json' }));
    await s3.client.send(new PutObjectCommand({ Bucket: 'results', Key: 'claims/x.json', Body: 'v2', IfMatch: head.ETag }));
    expect(await errorOf(s3.client.send(new PutObjectCommand({ Bucket: 'results', Key: 'claims/x.json', Body: 'v3', IfMatch: head.ETag })))).toEqual({ name: 'PreconditionFailed', status: 412 });
    expect(await errorOf(s3.client.send(new PutObjectCommand({ Bucket: 'results', Key: 'claims/none.json', Body: 'v1', IfMatch: '"abc"' })))).toEqual({ name: 'NoSuchKey', status: 404 });
  });

  it('answers missing keys and buckets with S3\'s error codes', async () => {
    expect(await errorOf(s3.client.send(new GetObjectCommand({ Bucket: 'results', Key: 'nope' })))).toEqual({ name: 'NoSuchKey', status: 404 });
    expect(await errorOf(s3.client.send(new GetObjectCommand({ Bucket: 'no-such-bucket', Key: 'x' })))).toEqual({ name: 'NoSuchBucket', status: 404 });
  });

  it('refuses aws-chunked uploads loudly instead of storing their framing', async () => {
    const defaultClient = new S3Client({ endpoint: s3.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, forcePathStyle: true });
    try {
      const body = Readable.from([Buffer.from('a stream body')]);
      const err = await errorOf(defaultClient.send(new PutObjectCommand({ Bucket: 'results', Key: 'stream.bin', Body: body, ContentLength: 13 })));
      expect(err).toEqual({ name: 'NotImplemented', status: 400 });
    } finally {
      defaultClient.destroy();
    }
  });

  it('verifies presigned URLs: a good one reads the object, a tampered or expired one is refused', async () => {
    await s3.client.send(new PutObjectCommand({ Bucket: 'results', Key: 'assets/bundle.mjs', Body: 'bundle' }));
    const sign = (o: { expiresInSeconds?: number; signingDate?: Date; key?: string } = {}) =>
      presignGetUrl({ credentials: LOCAL_CREDENTIALS, region: LOCAL_REGION, bucket: 'results', key: o.key ?? 'assets/bundle.mjs', expiresInSeconds: o.expiresInSeconds ?? 600, endpoint: s3.endpoint, ...(o.signingDate ? { signingDate: o.signingDate } : {}) });
    const good = await sign();
    expect(good.startsWith(`${s3.endpoint}/results/assets/bundle.mjs?`)).toBe(true);
    expect(await (await fetch(good)).text()).toBe('bundle');
    const tampered = good.replace('bundle.mjs', 'bundle.mjs2');
    expect(await (await fetch(tampered)).text()).toMatch(/<Code>SignatureDoesNotMatch<\/Code>/);
    const expired = await sign({ expiresInSeconds: 60, signingDate: new Date(Date.now() - 3_600_000) });
    const res = await fetch(expired);
    expect(res.status).toBe(403);
    expect(await res.text()).toMatch(/Request has expired/);
  });
});
