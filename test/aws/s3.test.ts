import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getObjectText, headObject, listObjects, multipartThreshold, parseS3Url, putRawObject, RawConflictError, uploadDirectory } from '../../runtime/aws/s3.ts';
import { InputError } from '../../runtime/core/errors.ts';
import { nativeRecords, writeNativeRun } from '../../bench/support/generate.ts';
import { startLocalS3, type LocalS3 } from '../support/s3rver.ts';
import { useTempDirs } from '../support/temp-dir.ts';

const tempDir = useTempDirs();

describe('parseS3Url', () => {
  it.each([
    ['s3://bucket/runs/a/b/r1', { bucket: 'bucket', prefix: 'runs/a/b/r1/' }],
    ['s3://bucket/runs/a/', { bucket: 'bucket', prefix: 'runs/a/' }],
    ['s3://bucket', { bucket: 'bucket', prefix: '' }],
    ['s3://bucket/', { bucket: 'bucket', prefix: '' }],
    ['s3://my.bucket-1//x//y', { bucket: 'my.bucket-1', prefix: 'x/y/' }],
  ])('%s', (url, expected) => expect(parseS3Url(url)).toEqual(expected));

  it.each(['http://bucket/x', 'bucket/x', 's3://UPPER/x', 's3://a/x'])('rejects %s with a fix', (url) => {
    expect(() => parseS3Url(url)).toThrow(InputError);
    expect(() => parseS3Url(url)).toThrow(/Fix:/);
  });
});

describe('uploadDirectory (s3rver on loopback)', () => {
  let s3: LocalS3;
  let dir: string;
  beforeAll(async () => {
    s3 = await startLocalS3();
    dir = await tempDir();
    const { records } = nativeRecords({ requests: 40, tokens: 4 });
    await writeNativeRun(dir, records, { shards: 2, tokens: 4 });
    await writeFile(join(dir, 'summary.json'), '{"runner":"summary"}');
  });
  afterAll(async () => {
    await s3.stop();
  });

  it('uploads a run directory under the prefix, raw files first', async () => {
    const rep = await uploadDirectory(s3.client, dir, `s3://${s3.bucket}/runs/baseline/qwen3-8b/r1`);
    expect(rep.skipped).toEqual([]);
    expect(rep.uploaded.at(-1)).toBe('summary.json');
    const keys: string[] = [];
    for await (const o of listObjects(s3.client, s3.bucket, 'runs/baseline/qwen3-8b/r1/')) keys.push(o.key);
    expect(keys.sort()).toEqual(
      ['requests/shard-0000-0000.ndjson.gz', 'requests/shard-0000.json', 'requests/shard-0001-0000.ndjson.gz', 'requests/shard-0001.json', 'run.json', 'summary.json'].map((k) => `runs/baseline/qwen3-8b/r1/${k}`),
    );
  });

  it('a retried upload skips identical raw objects and replaces only derived ones', async () => {
    await writeFile(join(dir, 'summary.json'), '{"runner":"summary","again":true}');
    const rep = await uploadDirectory(s3.client, dir, `s3://${s3.bucket}/runs/baseline/qwen3-8b/r1/`);
    expect(rep.uploaded).toEqual(['summary.json']);
    expect(rep.skipped).toHaveLength(5);
    expect(await getObjectText(s3.client, s3.bucket, 'runs/baseline/qwen3-8b/r1/summary.json')).toContain('again');
  });

  it('never overwrites a raw object that differs: nothing is uploaded and the conflict is named', async () => {
    const key = 'runs/baseline/qwen3-8b/r2/run.json';
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: '{"someone":"else"}' }));
    const err = await uploadDirectory(s3.client, dir, `s3://${s3.bucket}/runs/baseline/qwen3-8b/r2/`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/run\.json already exists with different content[\s\S]*Fix: raw results are never overwritten/);
    expect(await getObjectText(s3.client, s3.bucket, key)).toBe('{"someone":"else"}');
    expect(await headObject(s3.client, s3.bucket, 'runs/baseline/qwen3-8b/r2/requests/shard-0000.json')).toBeNull();
  });

  it('a raw object of the same size but other content is a conflict, not a retry', async () => {
    const key = 'runs/baseline/qwen3-8b/r3/run.json';
    const mine = await readFile(join(dir, 'run.json'));
    const theirs = Buffer.from(mine.map((b) => (b === 0x31 ? 0x32 : b === 0x32 ? 0x31 : b))); // swap '1' and '2': same length
    expect(theirs.equals(mine)).toBe(false);
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: theirs }));
    const err = await uploadDirectory(s3.client, dir, `s3://${s3.bucket}/runs/baseline/qwen3-8b/r3/`).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/run\.json already exists with different content/);
    expect(Buffer.from(await getObjectText(s3.client, s3.bucket, key))).toEqual(theirs);
  });

  it('a raw object written without a checksum (an older version) is compared by its bytes', async () => {
    const prefix = 'runs/baseline/qwen3-8b/r4/';
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: prefix + 'run.json', Body: await readFile(join(dir, 'run.json')) }));
    expect((await headObject(s3.client, s3.bucket, prefix + 'run.json'))?.sha256).toBeNull();
    const rep = await uploadDirectory(s3.client, dir, `s3://${s3.bucket}/${prefix}`);
    expect(rep.skipped).toEqual(['run.json']);
    expect((await headObject(s3.client, s3.bucket, prefix + 'requests/shard-0000.json'))?.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('putRawObject (s3rver on loopback, S3\'s conditional writes)', () => {
  let s3: LocalS3;
  beforeAll(async () => {
    s3 = await startLocalS3();
  });
  afterAll(async () => {
    await s3.stop();
  });

  it('a raw object past the multipart threshold is written once too: If-None-Match rides on CompleteMultipartUpload', async () => {
    const big = (fill: number): Buffer => Buffer.alloc(multipartThreshold + 1024, fill);
    expect(await putRawObject(s3.client, s3.bucket, 'runs/r/requests/big.ndjson.gz', big(1), 'application/gzip')).toBe('written');
    // The same content again is the upload retried; other content is refused, and the first stays.
    expect(await putRawObject(s3.client, s3.bucket, 'runs/r/requests/big.ndjson.gz', big(1), 'application/gzip')).toBe('identical');
    await expect(putRawObject(s3.client, s3.bucket, 'runs/r/requests/big.ndjson.gz', big(2), 'application/gzip')).rejects.toBeInstanceOf(RawConflictError);
    expect((await headObject(s3.client, s3.bucket, 'runs/r/requests/big.ndjson.gz'))?.size).toBe(multipartThreshold + 1024);
  });
});
