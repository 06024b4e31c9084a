import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Claim, claimKey, judgeClaim, newClaim } from '../core/claims.ts';
import { validate } from '../core/errors.ts';

/**
 * A run's claim on its target, in the results bucket (core/claims.ts decides; this does the S3
 * calls). Created with `If-None-Match: *`; an expired claim is taken over with `If-Match` on its
 * ETag, so of two runs racing for it exactly one wins.
 */

/** Another run holds the target (Step Functions matches on the name). */
export class RunInProgressError extends Error {
  constructor(claim: Claim) {
    super(`Run ${claim.runId} (execution ${claim.executionId}) has been measuring ${claim.target} since ${claim.claimedAt}; its claim lapses at ${claim.expiresAt} if it never releases it.`);
    this.name = 'RunInProgress';
  }
}

type Send = Pick<S3Client, 'send'>;

export interface ClaimRequest {
  bucket: string;
  target: string;
  runId: string;
  executionId: string;
  nowMs: number;
  workflowTimeoutSeconds: number;
}

/** Claims the target for this run, or throws RunInProgressError naming the run that holds it. */
export async function acquireClaim(s3: Send, r: ClaimRequest): Promise<Claim> {
  const key = claimKey(r.target);
  const mine = newClaim(r);
  if (await put(s3, r.bucket, key, mine, { IfNoneMatch: '*' })) return mine;
  for (let attempt = 0; attempt < 3; attempt++) {
    const current = await read(s3, r.bucket, key);
    if (!current) {
      // Released between our write and our read: try to create it again.
      if (await put(s3, r.bucket, key, mine, { IfNoneMatch: '*' })) return mine;
      continue;
    }
    const verdict = judgeClaim(current.claim, r.executionId, r.nowMs);
    if (verdict === 'ours') return current.claim; // a retried PrepareRun
    if (verdict === 'held') throw new RunInProgressError(current.claim);
    if (await put(s3, r.bucket, key, mine, { IfMatch: current.etag })) return mine;
  }
  throw new Error(`${key}: the claim changed under three attempts to take it; start the run again`);
}

/**
 * Releases the target if this execution holds it; returns whether it did. The delete is conditional
 * on the ETag read: a claim that lapsed and was taken over between the read and the delete is the
 * other run's now, and stays.
 */
export async function releaseClaim(s3: Send, bucket: string, target: string, executionId: string): Promise<boolean> {
  const key = claimKey(target);
  const current = await read(s3, bucket, key);
  if (!current || current.claim.executionId !== executionId) return false;
  try {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, IfMatch: current.etag }));
    return true;
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.$metadata?.httpStatusCode === 412 || e.name === 'PreconditionFailed' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return false;
    throw err;
  }
}

async function put(s3: Send, bucket: string, key: string, claim: Claim, condition: { IfNoneMatch?: string; IfMatch?: string }): Promise<boolean> {
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `${JSON.stringify(claim, null, 2)}\n`, ContentType: 'application/json', ...condition }));
    return true;
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.$metadata?.httpStatusCode === 412 || e.name === 'PreconditionFailed' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 409) return false;
    throw err;
  }
}

async function read(s3: Send, bucket: string, key: string): Promise<{ claim: Claim; etag: string } | null> {
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const parsed = validate(Claim, JSON.parse(await res.Body!.transformToString('utf8')));
    if (!parsed.ok) throw new Error(`s3://${bucket}/${key} is not a claim (${parsed.problems.join('; ')}); delete it if no run is in progress`);
    return { claim: parsed.data, etag: res.ETag ?? '' };
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return null;
    // S3 answers a missing key with 403 to a caller that may not list the bucket: say so, not just "Access Denied".
    if ((err as { name?: string }).name === 'AccessDenied') {
      throw Object.assign(new Error(`s3://${bucket}/${key}: access denied (${(err as Error).message}); reading a claim needs s3:GetObject on it and s3:ListBucket for claims/ (without it S3 answers a missing claim with 403, not 404)`), { name: 'AccessDenied' });
    }
    throw err;
  }
}
