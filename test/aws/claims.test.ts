import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireClaim, releaseClaim, RunInProgressError } from '../../runtime/aws/claims.ts';
import { claimKey } from '../../runtime/core/claims.ts';
import { startLocalS3, type LocalS3 } from '../support/s3rver.ts';

let s3: LocalS3;
beforeAll(async () => {
  s3 = await startLocalS3('results');
});
afterAll(() => s3.stop());

const T0 = Date.UTC(2025, 0, 1, 2);
const req = (executionId: string, target: string, nowMs = T0) => ({ bucket: 'results', target, runId: `20250101T020000Z-${executionId.slice(-6)}`, executionId, nowMs, workflowTimeoutSeconds: 3600 });

describe('exclusive runs: claims on a target (the local S3, with S3\'s conditional writes)', () => {
  it('one run claims a target; a second is refused, naming the first; released, the target is free again', async () => {
    const t = 'http://qwen3-vllm.default:8000';
    await acquireClaim(s3.client, req('exec-aaaaaa', t));
    const refused = await acquireClaim(s3.client, req('exec-bbbbbb', t, T0 + 60_000)).catch((e: Error) => e);
    expect(refused).toBeInstanceOf(RunInProgressError);
    expect((refused as Error).message).toMatch(/^Run 20250101T020000Z-aaaaaa \(execution exec-aaaaaa\) has been measuring http:\/\/qwen3-vllm.default:8000 since 2025-01-01T02:00:00.000Z; its claim lapses at 2025-01-01T03:15:00.000Z/);
    expect(await releaseClaim(s3.client, 'results', t, 'exec-bbbbbb')).toBe(false); // not its claim
    expect(await releaseClaim(s3.client, 'results', t, 'exec-aaaaaa')).toBe(true);
    await acquireClaim(s3.client, req('exec-bbbbbb', t, T0 + 120_000));
  });

  it('a retried PrepareRun of the same execution keeps its claim', async () => {
    const t = 'http://retry:8000';
    await acquireClaim(s3.client, req('exec-cccccc', t));
    await expect(acquireClaim(s3.client, req('exec-cccccc', t))).resolves.toMatchObject({ executionId: 'exec-cccccc' });
  });

  it('a claim its run never released lapses: after timeout + margin the next run takes it', async () => {
    const t = 'http://died:8000';
    await acquireClaim(s3.client, req('exec-dddddd', t));
    await expect(acquireClaim(s3.client, req('exec-eeeeee', t, T0 + 3600_000))).rejects.toBeInstanceOf(RunInProgressError);
    await expect(acquireClaim(s3.client, req('exec-eeeeee', t, T0 + (3600 + 900) * 1000))).resolves.toMatchObject({ executionId: 'exec-eeeeee' });
  });

  it('of many runs racing for a free target, exactly one gets it', async () => {
    const t = 'http://race:8000';
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => acquireClaim(s3.client, req(`exec-race0${i}`, t))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof RunInProgressError)).toBe(true);
  });

  it('a claim that lapsed and was taken over between a release\'s read and its delete stays the new run\'s (the delete is conditional on the ETag read)', async () => {
    const t = 'http://slow-release:8000';
    await acquireClaim(s3.client, req('exec-ffffff', t));
    // The slow run's ReleaseRun reads its claim; before it deletes, the claim lapses and another run takes it over.
    const slow = {
      send: async (command: Parameters<typeof s3.client.send>[0]) => {
        if (command instanceof DeleteObjectCommand) await acquireClaim(s3.client, req('exec-gggggg', t, T0 + (3600 + 900) * 1000));
        return s3.client.send(command as never);
      },
    };
    expect(await releaseClaim(slow, 'results', t, 'exec-ffffff')).toBe(false);
    await expect(acquireClaim(s3.client, req('exec-hhhhhh', t, T0 + (3600 + 901) * 1000))).rejects.toThrow(/^Run \S+ \(execution exec-gggggg\)/);
    expect(await releaseClaim(s3.client, 'results', t, 'exec-gggggg')).toBe(true);
  });

  it('the local S3 answers a conditional delete as S3 does: 412 on another ETag, 404 without an object', async () => {
    await s3.client.send(new PutObjectCommand({ Bucket: 'results', Key: 'cond/x', Body: 'x' }));
    await expect(s3.client.send(new DeleteObjectCommand({ Bucket: 'results', Key: 'cond/x', IfMatch: '"0123"' }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    await expect(s3.client.send(new DeleteObjectCommand({ Bucket: 'results', Key: 'cond/none', IfMatch: '"0123"' }))).rejects.toMatchObject({ name: 'NoSuchKey' });
    const { ETag } = await s3.client.send(new HeadObjectCommand({ Bucket: 'results', Key: 'cond/x' }));
    await s3.client.send(new DeleteObjectCommand({ Bucket: 'results', Key: 'cond/x', IfMatch: ETag }));
    await expect(s3.client.send(new HeadObjectCommand({ Bucket: 'results', Key: 'cond/x' }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
  });

  it('one key per target, readable', () => {
    expect(claimKey('http://qwen3-vllm.default:8000/')).toBe('claims/qwen3-vllm.default-8000.json');
  });
});
