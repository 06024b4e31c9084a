import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presignGetUrl } from '../../runtime/aws/run-files.ts';
import { createS3Client } from '../../runtime/aws/s3.ts';
import type { LocalIamModel } from '../../runtime/core/ports/local-stack.ts';
import { LocalIam } from '../../runtime/local/iam.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalS3, type LocalS3 } from '../../runtime/local/local-s3.ts';

/**
 * The local S3 authorizes every request as its signer's role, with a maintained IAM evaluator, and
 * refuses as S3 does — including S3's 403 (not 404) for a missing key to a caller that may not list
 * the bucket. The roles here are written by hand; test/local/workflow-failures.test.ts runs the
 * stack's own (synthesized) roles.
 */
const ACCOUNT = '000000000000';
const role = (name: string): string => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const doc = (...Statement: unknown[]) => ({ Version: '2012-10-17', Statement });
const model: LocalIamModel = {
  roles: {
    [role('reader')]: { name: 'reader', trust: {}, managedPolicies: [], policies: [{ name: 'read', document: doc({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::results/runs/*' }) }] },
    [role('lister')]: {
      name: 'lister',
      trust: {},
      managedPolicies: [],
      policies: [{ name: 'read-list', document: doc({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::results/runs/*' }, { Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::results', Condition: { StringLike: { 's3:prefix': ['runs/*'] } } }) }],
    },
    [role('writer')]: {
      name: 'writer',
      trust: {},
      managedPolicies: [],
      policies: [
        { name: 'write', document: doc({ Effect: 'Allow', Action: ['s3:PutObject', 's3:DeleteObject'], Resource: 'arn:aws:s3:::results/runs/*' }) },
        { name: 'assume', document: doc({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }) },
      ],
    },
    // Trusts the reader role only (as BundleReader trusts PrepareRun's role).
    [role('bundle')]: { name: 'bundle', trust: doc({ Effect: 'Allow', Principal: { AWS: role('reader') }, Action: 'sts:AssumeRole' }), managedPolicies: [], policies: [] },
  },
  // Raw writes must be conditional: S3 can require it in the bucket policy (s3:if-none-match).
  bucketPolicies: { results: doc({ Effect: 'Deny', Principal: { AWS: '*' }, Action: 's3:PutObject', Resource: 'arn:aws:s3:::results/runs/*', Condition: { Null: { 's3:if-none-match': 'true' } } }) },
  principals: { PrepareRun: '', Aggregate: '', Publish: '', ReleaseRun: '', workflow: '', reaper: '' },
};

let s3: LocalS3;
let iam: LocalIam;
const clients: S3Client[] = [];
const as = (name: string): S3Client => {
  const c = createS3Client({ endpoint: s3.endpoint, region: LOCAL_REGION, credentials: iam.credentialsFor(role(name)) });
  clients.push(c);
  return c;
};
beforeAll(async () => {
  iam = new LocalIam(model, LOCAL_CREDENTIALS);
  s3 = await startLocalS3({ buckets: ['results'], iam });
  const admin = createS3Client({ endpoint: s3.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  clients.push(admin);
  await admin.send(new PutObjectCommand({ Bucket: 'results', Key: 'runs/a/run.json', Body: '{}' }));
});
afterAll(async () => {
  clients.forEach((c) => c.destroy());
  await s3.stop();
});

async function failure(p: Promise<unknown>): Promise<{ name: string; status: number | undefined; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error('expected the request to be refused');
}

describe('IAM in the local S3 (each request authorized as its signer\'s role)', () => {
  it('allows what a role\'s policy allows and refuses the rest with S3\'s 403 and IAM\'s words', async () => {
    const got = await as('reader').send(new GetObjectCommand({ Bucket: 'results', Key: 'runs/a/run.json' }));
    expect(await got.Body!.transformToString()).toBe('{}');
    const denied = await failure(as('reader').send(new PutObjectCommand({ Bucket: 'results', Key: 'runs/a/x', Body: 'x', IfNoneMatch: '*' })));
    expect(denied).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(denied.message).toBe('User: arn:aws:sts::000000000000:assumed-role/reader/local is not authorized to perform: s3:PutObject on resource: "arn:aws:s3:::results/runs/a/x" because no identity-based policy allows the s3:PutObject action');
    expect(await failure(as('reader').send(new ListObjectsV2Command({ Bucket: 'results', Prefix: 'runs/' })))).toMatchObject({ name: 'AccessDenied', status: 403 });
  });

  it('a missing key is 404 NoSuchKey to a caller that may list the bucket, 403 AccessDenied to one that may not (GET and HEAD)', async () => {
    expect(await failure(as('lister').send(new GetObjectCommand({ Bucket: 'results', Key: 'runs/a/none.json' })))).toMatchObject({ name: 'NoSuchKey', status: 404 });
    const refused = await failure(as('reader').send(new GetObjectCommand({ Bucket: 'results', Key: 'runs/a/none.json' })));
    expect(refused).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(refused.message).toMatch(/not authorized to perform: s3:ListBucket on resource: "arn:aws:s3:::results"/);
    expect(await failure(as('reader').send(new HeadObjectCommand({ Bucket: 'results', Key: 'runs/a/none.json' })))).toMatchObject({ status: 403 });
    expect(await failure(as('lister').send(new HeadObjectCommand({ Bucket: 'results', Key: 'runs/a/none.json' })))).toMatchObject({ status: 404 });
  });

  it('a bucket policy\'s explicit deny wins: raw writes without If-None-Match are refused, conditional ones allowed', async () => {
    const plain = await failure(as('writer').send(new PutObjectCommand({ Bucket: 'results', Key: 'runs/a/part', Body: 'x' })));
    expect(plain).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(plain.message).toMatch(/with an explicit deny/);
    await as('writer').send(new PutObjectCommand({ Bucket: 'results', Key: 'runs/a/part', Body: 'x', IfNoneMatch: '*' }));
    await as('writer').send(new DeleteObjectCommand({ Bucket: 'results', Key: 'runs/a/part' }));
  });

  it('an access key the account does not know is refused (InvalidAccessKeyId); a presigned URL carries its signer\'s rights', async () => {
    const stranger = createS3Client({ endpoint: s3.endpoint, region: LOCAL_REGION, credentials: { accessKeyId: 'AKIASTRANGER', secretAccessKey: 'x' } });
    clients.push(stranger);
    expect(await failure(stranger.send(new GetObjectCommand({ Bucket: 'results', Key: 'runs/a/run.json' })))).toMatchObject({ name: 'InvalidAccessKeyId', status: 403 });
    const url = (name: string, key: string) => presignGetUrl({ credentials: iam.credentialsFor(role(name)), region: LOCAL_REGION, bucket: 'results', key, expiresInSeconds: 600, endpoint: s3.endpoint });
    expect(await (await fetch(await url('reader', 'runs/a/run.json'))).text()).toBe('{}');
    const refused = await fetch(await url('writer', 'runs/a/run.json'));
    expect(refused.status).toBe(403);
    expect(await refused.text()).toMatch(/<Code>AccessDenied<\/Code><Message>User: arn:aws:sts::000000000000:assumed-role\/writer\/local is not authorized to perform: s3:GetObject/);
  });

  it('a role is assumed only by whom its trust policy names, whatever the caller\'s own policy allows', async () => {
    const asReader = iam.principalOf(iam.credentialsFor(role('reader')).accessKeyId)!;
    const asWriter = iam.principalOf(iam.credentialsFor(role('writer')).accessKeyId)!;
    expect((await iam.authorize(asReader, 'sts:AssumeRole', role('bundle'))).allowed).toBe(true);
    expect((await iam.authorize(asWriter, 'sts:AssumeRole', role('bundle'))).allowed).toBe(false);
  });
});
