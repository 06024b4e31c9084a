import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { InputError } from '../core/errors.ts';
import { RUN_MANIFEST_FILE, requestsPath } from '../core/run-layout.ts';
import { formatS3Url, type S3Location } from './s3.ts';
import { networkCode, sdkConfigProblem, type SdkError } from './sdk-errors.ts';

/**
 * S3 checked before anything is measured, and its failures in words: a user whose region,
 * credentials, endpoint or bucket is wrong learns which, at once — not a stack trace at the end of
 * a 300 s run.
 */

/** The SDK's failure, as the one thing the user has to fix; null when it is not a setup problem. */
export function s3SetupProblem(err: unknown, where: string, endpoint?: string): InputError | null {
  const e = err as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const config = sdkConfigProblem(e, where);
  if (config) return config;
  const code = networkCode(e);
  if (code) {
    return new InputError(where, [`cannot reach the S3 endpoint ${endpoint ?? '(AWS)'}: ${code}`], endpoint ? 'check --s3-endpoint / --endpoint and that the server is running.' : 'check the network route to S3 (proxy, VPC endpoint, DNS).');
  }
  if (e.name === 'NoSuchBucket' || (status === 404 && e.name === 'NotFound')) {
    return new InputError(where, ['the bucket does not exist (or is in another account)'], 'check the bucket name in the s3:// URL.');
  }
  if (status === 403 || e.name === 'AccessDenied' || e.name === 'Forbidden' || e.name === 'InvalidAccessKeyId' || e.name === 'SignatureDoesNotMatch') {
    return new InputError(where, [`access denied (${e.name ?? status})`], 'use credentials allowed to read and write this bucket and prefix (s3:GetObject, s3:PutObject, s3:ListBucket).');
  }
  if (e.name === 'PermanentRedirect' || status === 301) {
    return new InputError(where, ['the bucket is in another region'], 'set AWS_REGION to the bucket\'s region.');
  }
  return null;
}

/**
 * The bucket answers, with these credentials, under this prefix: a one-key list of the prefix, its
 * failure said plainly. Not HeadBucket: that needs s3:ListBucket on the whole bucket, and the
 * runner's role may list only under runs/ (infra/constructs/cluster-access.ts).
 */
export async function checkBucket(client: S3Client, loc: S3Location, endpoint?: string): Promise<void> {
  try {
    await client.send(new ListObjectsV2Command({ Bucket: loc.bucket, Prefix: loc.prefix, MaxKeys: 1 }), { abortSignal: AbortSignal.timeout(15_000) });
  } catch (err) {
    throw s3SetupProblem(err, formatS3Url(loc), endpoint) ?? err;
  }
}

/**
 * A shard may start only where none of its raw files exists yet: run.json (shard 0) and its own
 * parts. Another run with the same run id is refused before it measures anything, instead of mixing
 * its files into the first run's.
 */
export async function assertShardNotWritten(client: S3Client, runLoc: S3Location, shard: number): Promise<void> {
  const taken: string[] = [];
  const probes = [...(shard === 0 ? [RUN_MANIFEST_FILE] : []), requestsPath(`shard-${String(shard).padStart(4, '0')}`)];
  for (const probe of probes) {
    const page = await client.send(new ListObjectsV2Command({ Bucket: runLoc.bucket, Prefix: runLoc.prefix + probe, MaxKeys: 1 }));
    if ((page.KeyCount ?? 0) > 0) taken.push(page.Contents![0]!.Key!.slice(runLoc.prefix.length));
  }
  if (taken.length > 0) {
    throw new InputError(formatS3Url(runLoc), [`already holds this run's files (${taken.join(', ')}): a run with this run id was written there before`], 'raw results are never overwritten: run again with another --run-id (or none).');
  }
}
