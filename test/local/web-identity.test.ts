import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../runtime/aws/s3.ts';
import type { LocalIamModel } from '../../runtime/core/ports/local-stack.ts';
import { IRSA_ROLE_ANNOTATION } from '../../runtime/core/run-spec/stack-defaults.ts';
import { realCloudClock } from '../../runtime/local/clock.ts';
import { LocalIam } from '../../runtime/local/iam.ts';
import { JobRun, type PodHost } from '../../runtime/local/kubernetes/jobs.ts';
import { PodIdentityAgent } from '../../runtime/local/kubernetes/pod-identity.ts';
import { LOCAL_OIDC_ISSUER, WebIdentity } from '../../runtime/local/kubernetes/web-identity.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalS3, type LocalS3 } from '../../runtime/local/local-s3.ts';
import { useTempDirs } from '../support/temp-dir.ts';

/**
 * IRSA in the local cloud: a pod's projected ServiceAccount token, traded by the AWS SDK's own
 * default credential chain at the local STS (AssumeRoleWithWebIdentity) for its role's
 * credentials, which the local S3 then authorizes as that role. STS refuses as AWS does: a token
 * another key signed, of an unknown issuer, expired, for another audience; a ServiceAccount the
 * trust policy does not name, a role that trusts Pod Identity only. Token expiry is a matter of
 * the STS's clock, moved by the test (no waiting).
 */
const tempDir = useTempDirs();
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const ACCOUNT = '000000000000';
const role = (name: string): string => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const doc = (...Statement: unknown[]) => ({ Version: '2012-10-17', Statement });
const PROVIDER = `arn:aws:iam::${ACCOUNT}:oidc-provider/${LOCAL_OIDC_ISSUER}`;
/** An IRSA trust policy as EKS's documentation writes it (and the stack does with `runnerCredentials: irsa`). */
const irsaTrust = (operator: string, sub: string) =>
  doc({ Effect: 'Allow', Principal: { Federated: PROVIDER }, Action: 'sts:AssumeRoleWithWebIdentity', Condition: { [operator]: { [`${LOCAL_OIDC_ISSUER}:sub`]: sub, [`${LOCAL_OIDC_ISSUER}:aud`]: 'sts.amazonaws.com' } } });
const writeRuns = [{ name: 'runs', document: doc({ Effect: 'Allow', Action: ['s3:PutObject', 's3:GetObject'], Resource: 'arn:aws:s3:::results/runs/*' }) }];
const model: LocalIamModel = {
  roles: {
    [role('irsa-runner')]: { name: 'irsa-runner', trust: irsaTrust('StringEquals', 'system:serviceaccount:bench:runner'), managedPolicies: [], policies: writeRuns },
    [role('irsa-namespace')]: { name: 'irsa-namespace', trust: irsaTrust('StringLike', 'system:serviceaccount:bench:*'), managedPolicies: [], policies: writeRuns },
    // The stack's default runner role: EKS Pod Identity's service principal, no web identity.
    [role('pod-identity-runner')]: {
      name: 'pod-identity-runner',
      trust: doc({ Effect: 'Allow', Principal: { Service: 'pods.eks.amazonaws.com' }, Action: ['sts:AssumeRole', 'sts:TagSession'] }),
      managedPolicies: [],
      policies: writeRuns,
    },
  },
  bucketPolicies: {},
  principals: { PrepareRun: '', Aggregate: '', Publish: '', ReleaseRun: '', workflow: '', reaper: '' },
};

/** The STS's clock (epoch ms): a test moves it to expire a token. */
let nowMs = Date.now();
let iam: LocalIam;
let s3: LocalS3;
let admin: S3Client;
let web: WebIdentity;
let sts: STSClient;
let agent: PodIdentityAgent;
beforeAll(async () => {
  iam = new LocalIam(model, LOCAL_CREDENTIALS);
  s3 = await startLocalS3({ buckets: ['results'], iam });
  admin = createS3Client({ endpoint: s3.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  web = await WebIdentity.create({ iam, now: () => nowMs });
  await web.start();
  // AssumeRoleWithWebIdentity is unsigned: the client needs no credentials of its own.
  sts = new STSClient({ endpoint: web.endpoint, region: LOCAL_REGION });
  agent = new PodIdentityAgent([{ namespace: 'bench', serviceAccount: 'runner', roleArn: role('pod-identity-runner'), credentials: iam.credentialsFor(role('pod-identity-runner')) }]);
  await agent.start();
});
afterAll(async () => {
  sts?.destroy();
  admin?.destroy();
  await agent?.stop();
  await web?.stop();
  await s3?.stop();
});

/** A Node process with only `env` (no AWS settings of this machine's): what the SDK's default chain finds in a pod. */
function runNode(script: string, env: Record<string, string>, home: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? '', HOME: home, AWS_CONFIG_FILE: join(home, 'no-config'), AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-credentials'), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += String(d)));
    child.stderr.on('data', (d: Buffer) => (err += String(d)));
    child.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`node exited ${code}: ${err}`))));
  });
}

async function refusal(token: string, roleArn = role('irsa-runner')): Promise<{ name: string; status: number | undefined; message: string }> {
  try {
    await sts.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: roleArn, RoleSessionName: 'test', WebIdentityToken: token }));
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error('expected STS to refuse');
}

describe('IRSA: the local OIDC issuer and STS', () => {
  it("gives a process with the webhook's env the role's credentials through the SDK's default chain (AWS_ENDPOINT_URL_STS), which S3 honours", async () => {
    // Prepare: the env and token file EKS's webhook gives a pod of bench/runner annotated with the role.
    const home = await tempDir();
    const tokenFile = join(home, 'token');
    const { env, token } = await web.envFor('bench', 'runner', role('irsa-runner'), tokenFile);
    await writeFile(tokenFile, token);
    const script = `
      import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
      const s3 = new S3Client({ forcePathStyle: true });
      const c = await s3.config.credentials();
      await s3.send(new PutObjectCommand({ Bucket: 'results', Key: 'runs/irsa/probe.json', Body: '{}' }));
      console.log(JSON.stringify({ accessKeyId: c.accessKeyId, expiration: c.expiration }));`;

    // Act
    const out = JSON.parse(await runNode(script, { ...env, AWS_ENDPOINT_URL_S3: s3.endpoint, AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED' }, home)) as { accessKeyId: string; expiration: string };

    // Assess: the role's key (only the local STS could have given it), an hour on the STS's clock, and the write landed.
    expect(env).toMatchObject({ AWS_ROLE_ARN: role('irsa-runner'), AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ENDPOINT_URL_STS: web.endpoint, AWS_STS_REGIONAL_ENDPOINTS: 'regional' });
    expect(out.accessKeyId).toBe(iam.credentialsFor(role('irsa-runner')).accessKeyId);
    expect(Date.parse(out.expiration)).toBe(nowMs + 3_600_000);
    await expect(admin.send(new HeadObjectCommand({ Bucket: 'results', Key: 'runs/irsa/probe.json' }))).resolves.toBeDefined();
  });

  it('answers AssumeRoleWithWebIdentity with the elements the SDK parses, and evaluates the trust policy with IAM\'s operators', async () => {
    const token = await web.signToken('bench', 'other');

    const out = await sts.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: role('irsa-namespace'), RoleSessionName: 'runner-0', WebIdentityToken: token }));

    expect(out).toMatchObject({
      SubjectFromWebIdentityToken: 'system:serviceaccount:bench:other',
      Audience: 'sts.amazonaws.com',
      Provider: PROVIDER,
      AssumedRoleUser: { Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/irsa-namespace/runner-0` },
      Credentials: { AccessKeyId: iam.credentialsFor(role('irsa-namespace')).accessKeyId, SecretAccessKey: iam.credentialsFor(role('irsa-namespace')).secretAccessKey },
    });
    expect(out.Credentials!.Expiration!.getTime()).toBe(new Date(nowMs + 3_600_000).getTime());
  });

  it('refuses a token signed by another key, and one of an issuer the account has no OIDC provider for', async () => {
    const impostor = await WebIdentity.create({ iam, issuer: LOCAL_OIDC_ISSUER, now: () => nowMs });
    const stranger = await WebIdentity.create({ iam, issuer: 'oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789ABCDEF0123456789', now: () => nowMs });

    const forged = await refusal(await impostor.signToken('bench', 'runner'));
    const foreign = await refusal(await stranger.signToken('bench', 'runner'));

    expect(forged).toMatchObject({ name: 'InvalidIdentityTokenException', status: 400 });
    expect(forged.message).toMatch(/^The web identity token that was passed could not be validated by AWS/);
    expect(foreign).toEqual({ name: 'InvalidIdentityTokenException', status: 400, message: 'No OpenIDConnect provider found in your account for https://oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789ABCDEF0123456789' });
  });

  it('refuses a token past its expiry (24 h on the STS clock) with ExpiredTokenException', async () => {
    const signedAt = nowMs;
    const token = await web.signToken('bench', 'runner');
    nowMs = signedAt + 86_400_000 + 1000;
    try {
      const expired = await refusal(token);
      expect(expired).toMatchObject({ name: 'ExpiredTokenException', status: 400 });
      expect(expired.message).toBe(`Token expired: current date/time ${Math.floor(nowMs / 1000)} must be before the expiration date/time ${Math.floor(signedAt / 1000) + 86_400}`);
    } finally {
      nowMs = signedAt;
    }
  });

  it('refuses a token for another audience', async () => {
    const wrongAudience = await refusal(await web.signToken('bench', 'runner', { audience: 'sigstore' }));

    expect(wrongAudience).toEqual({ name: 'InvalidIdentityTokenException', status: 400, message: 'Incorrect token audience' });
  });

  it('denies a ServiceAccount the trust policy does not name, a role that trusts Pod Identity only, and a role that does not exist', async () => {
    const denied = { name: 'AccessDenied', status: 403, message: 'Not authorized to perform sts:AssumeRoleWithWebIdentity' };

    const otherSa = await refusal(await web.signToken('bench', 'other'));
    const otherNamespace = await refusal(await web.signToken('default', 'runner'), role('irsa-namespace'));
    const podIdentityOnly = await refusal(await web.signToken('bench', 'runner'), role('pod-identity-runner'));
    const noRole = await refusal(await web.signToken('bench', 'runner'), role('missing'));

    expect([otherSa, otherNamespace, podIdentityOnly, noRole]).toEqual([denied, denied, denied, denied]);
  });
});

describe("IRSA in the local cluster: the webhook's injection", () => {
  const s3Module = pathToFileURL(createRequire(import.meta.url).resolve('@aws-sdk/client-s3')).href;
  /** A one-pod Job of bench/<serviceAccount> that prints the access key its SDK's default chain resolves. */
  async function resolvedKey(serviceAccount: string, annotations: Record<string, Record<string, string>>): Promise<string> {
    const host: PodHost = {
      sandboxRoot: await tempDir(),
      configMap: () => undefined,
      agent,
      webIdentity: web,
      serviceAccountAnnotations: (ns, name) => annotations[`${ns}/${name}`],
      extraEnv: { S3_MODULE: s3Module },
      onLog: () => undefined,
      clock: realCloudClock,
      allocatableCpu: () => 8,
      imagePullMs: () => 0,
      admit: () => null,
      recordEvent: () => undefined,
    };
    const script = "import(process.env.S3_MODULE).then((m) => new m.S3Client({}).config.credentials()).then((c) => console.log('KEY=' + c.accessKeyId))";
    const job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'probe', namespace: 'bench', uid: 'probe-uid' },
      spec: { completions: 1, template: { spec: { serviceAccountName: serviceAccount, containers: [{ name: 'main', image: 'node:22', command: ['node', '-e', script] }] } } },
    };
    const run = new JobRun(job, host);
    try {
      const pod = run.pods[0]!;
      while (pod.pod.status.phase !== 'Succeeded' && pod.pod.status.phase !== 'Failed') await new Promise((r) => setTimeout(r, 20));
      const line = pod.logs.find((l) => l.startsWith('KEY='));
      if (!line) throw new Error(`the pod printed no key: ${pod.logs.join('\n')}`);
      return line.slice('KEY='.length);
    } finally {
      await run.stop(0);
    }
  }

  it('with both an association and the role annotation the SDK takes the web identity, as on EKS; without the annotation, Pod Identity', async () => {
    const annotated = { 'bench/runner': { [IRSA_ROLE_ANNOTATION]: role('irsa-runner') } };

    const both = await resolvedKey('runner', annotated);
    const associationOnly = await resolvedKey('runner', {});

    expect(both).toBe(iam.credentialsFor(role('irsa-runner')).accessKeyId);
    expect(associationOnly).toBe(iam.credentialsFor(role('pod-identity-runner')).accessKeyId);
  });
});
