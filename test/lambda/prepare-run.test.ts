import { ResourceNotFoundException } from '@aws-sdk/client-eks';
import { Job } from 'kubernetes-models/batch/v1';
import { describe, expect, it } from 'vitest';
import { loadBundleBootstrap } from '../../runtime/bootstrap/index.ts';
import { RunInProgressError } from '../../runtime/aws/claims.ts';
import { clusterProblems, describeCluster, type ClusterInfo } from '../../runtime/aws/eks.ts';
import { presignGetUrl, writeRunFiles } from '../../runtime/aws/run-files.ts';
import { runIdSuffix } from '../../runtime/aws/sfn.ts';
import { newClaim, type Claim } from '../../runtime/core/claims.ts';
import { assembleJob, renderJob } from '../../runtime/core/manifests/index.ts';
import { RUN_DEFAULTS_ENV, type RunDefaultsInput } from '../../runtime/core/run-spec/index.ts';
import { bundleReaderSession, handler, prepareRun, type PrepareRunDeps } from '../../runtime/lambda/prepare-run.ts';
import { seedDefaults } from '../core/run-spec-fixture.ts';
import { startLocalS3 } from '../support/s3rver.ts';

const ACTIVE: ClusterInfo = {
  name: 'demo',
  status: 'ACTIVE',
  endpoint: 'https://ABC.gr7.us-west-2.eks.amazonaws.com',
  certificateAuthority: 'LS0tCg==',
  endpointPublicAccess: true,
  endpointPrivateAccess: false,
  publicAccessCidrs: ['0.0.0.0/0'],
  authenticationMode: 'API',
  version: '1.33',
  oidcIssuer: 'https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE',
};
const RUNNER_ROLE = 'arn:aws:iam::111111111111:role/runner';

/**
 * PrepareRun's AWS side as recorded fakes (DescribeCluster and the Pod Identity lookup cannot run
 * here); the claims follow S3's conditional-write rules (runtime/aws/claims.ts is tested against the
 * local S3 below).
 */
function fakes(cluster: ClusterInfo = ACTIVE, o: { defaults?: Partial<RunDefaultsInput>; runnerRole?: string | null; agentInstalled?: boolean; fargateProfiles?: string[]; held?: Claim; failWrite?: boolean } = {}) {
  const calls: string[] = [];
  const files: Array<{ bucket: string; key: string; body: string }> = [];
  const claims = new Map<string, Claim>(o.held ? [[o.held.target, o.held]] : []);
  const deps: PrepareRunDeps = {
    defaults: seedDefaults(o.defaults),
    bootstrap: loadBundleBootstrap(),
    describeCluster: async (name) => {
      calls.push(`describe ${name}`);
      return cluster;
    },
    describeRunnerAccess: async (c, ns, sa) => {
      calls.push(`runner access ${c} ${ns}/${sa}`);
      return { roleArn: o.runnerRole === undefined ? RUNNER_ROLE : o.runnerRole, agentInstalled: o.agentInstalled ?? true, fargateProfiles: o.fargateProfiles ?? [] };
    },
    claims: {
      acquire: async (r) => {
        calls.push(`claim ${r.target}`);
        const held = claims.get(r.target);
        if (held && held.executionId !== r.executionId) throw new RunInProgressError(held);
        const c = newClaim(r);
        claims.set(r.target, c);
        return c;
      },
      release: async (_bucket, target, id) => {
        calls.push(`release ${target}`);
        return claims.get(target)?.executionId === id && claims.delete(target);
      },
    },
    presignBundle: async (bucket, key, seconds) => {
      calls.push(`presign ${bucket}/${key} ${seconds}`);
      return `https://${bucket}.s3.amazonaws.com/${key}?sig`;
    },
    writeFiles: async (bucket, fs) => {
      if (o.failWrite) throw Object.assign(new Error('Access Denied'), { name: 'AccessDenied' });
      files.push(...fs.map((f) => ({ bucket, key: f.key, body: f.body })));
    },
    now: () => Date.UTC(2025, 0, 1, 2),
    randomSuffix: () => 'r4nd0m',
  };
  return { deps, calls, files, claims };
}

const EVENT = { input: {}, executionId: 'arn:aws:states:us-west-2:111111111111:execution:sm:nightly-1', startTime: '2025-01-01T02:00:00.123Z' };

describe('prepareRun', () => {
  it('turns {} into the RunSpec, the cluster endpoint and the manifests, and writes run-spec.json (the native runner writes config.yml)', async () => {
    const { deps, calls, files } = fakes();
    const out = await prepareRun(EVENT, deps);
    const suffix = runIdSuffix(EVENT.executionId);
    expect(out.runSpec.runId).toBe(`20250101T020000Z-${suffix}`);
    expect(out.runSpec.executionId).toBe(EVENT.executionId);
    expect(out.cluster).toEqual({ name: 'demo', endpoint: ACTIVE.endpoint, certificateAuthority: ACTIVE.certificateAuthority });
    expect(calls).toEqual(['describe demo', 'claim http://qwen3-vllm.default:8000', 'presign cdk-assets/abc.mjs 3600']);
    // config.yml has one writer per run: for the native runner that is the runner (core/run-layout.ts).
    expect(files.map((f) => [f.bucket, f.key])).toEqual([['results-bucket', `runs/baseline/qwen3-8b/20250101T020000Z-${suffix}/run-spec.json`]]);
    expect(JSON.parse(files[0]!.body)).toEqual(out.runSpec);
    const job = assembleJob(out.manifests.job, out.manifests.zoneUnknownPlacement);
    expect(job).toEqual(renderJob(out.runSpec, null, { bundle: { url: 'https://cdk-assets.s3.amazonaws.com/abc.mjs?sig', bootstrap: loadBundleBootstrap() } }));
    expect(() => new Job(job as never).validate()).not.toThrow();
  });

  it('is stable across Lambda retries (same execution → same run id)', async () => {
    const a = await prepareRun(EVENT, fakes().deps);
    const b = await prepareRun(EVENT, fakes().deps);
    expect(a.runSpec.runId).toBe(b.runSpec.runId);
  });

  it('does not presign for inference-perf, and writes the config.yml inference-perf runs with', async () => {
    const { deps, calls, files } = fakes();
    const out = await prepareRun({ ...EVENT, input: { runner: 'inference-perf' } }, deps);
    expect(files.map((f) => f.key.split('/').pop())).toEqual(['run-spec.json', 'config.yml']);
    expect(files[1]!.body).toBe(out.manifests.configMap.data['config.yml']);
    expect(calls).toEqual(['describe demo', 'claim http://qwen3-vllm.default:8000']);
    expect(out.runSpec.bundle).toBeNull();
  });

  it('rejects invalid input as InvalidInput with every problem, before any AWS call', async () => {
    const { deps, calls, files } = fakes();
    const err = await prepareRun({ ...EVENT, input: { scenario: 'nope', runner: 'x', overrides: { load: { stages: [] } } } }, deps).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('InvalidInput');
    expect((err as Error).message).toMatch(/^execution input: \d problems:/);
    expect((err as Error).message).toMatch(/runner: unsupported value/);
    expect(calls).toEqual([]);
    expect(files).toEqual([]);
  });

  it('fails as ClusterNotReady naming every reason eks:call could not work', async () => {
    const { deps, files } = fakes({ ...ACTIVE, status: 'UPDATING', endpointPublicAccess: false, authenticationMode: 'CONFIG_MAP' });
    const err = (await prepareRun(EVENT, deps).catch((e: Error) => e)) as Error;
    expect(err.name).toBe('ClusterNotReady');
    expect(err.message).toMatch(/status is UPDATING.*API endpoint is private.*authentication mode is CONFIG_MAP/);
    expect(files).toEqual([]);
  });

  it('accepts a healthy cluster', () => {
    expect(clusterProblems(ACTIVE)).toEqual([]);
  });

  it('refuses a public endpoint limited to some CIDRs before anything is created: Step Functions calls from addresses no list can name', async () => {
    const { deps, files, calls } = fakes({ ...ACTIVE, publicAccessCidrs: ['203.0.113.0/24', '198.51.100.7/32'] });
    const err = (await prepareRun(EVENT, deps).catch((e: Error) => e)) as Error;
    expect(err.name).toBe('ClusterNotReady');
    expect(err.message).toContain(
      "its public endpoint accepts only 203.0.113.0/24, 198.51.100.7/32: Step Functions eks:call comes from AWS's own addresses, which no CIDR list can name, so every call would be refused; deploy the stack with -c clusterAccess=vpc -c vpcSubnetIds=subnet-…,subnet-… -c vpcSecurityGroupIds=sg-… (a Lambda in the cluster's VPC makes the calls), or open the endpoint to 0.0.0.0/0",
    );
    expect(files).toEqual([]);
    expect(calls.some((c) => c.startsWith('claim'))).toBe(false);
    expect(clusterProblems({ ...ACTIVE, publicAccessCidrs: ['10.0.0.0/8', '0.0.0.0/0'] })).toEqual([]);
    expect(clusterProblems({ ...ACTIVE, endpointPublicAccess: false })[0]).toMatch(/^its API endpoint is private: Step Functions eks:call reaches only public endpoints; deploy the stack with -c clusterAccess=vpc -c vpcSubnetIds=.*, or enable public access/);
  });

  describe('refuses each mismatch of stack and cluster before anything is created, with the settings to deploy with', () => {
    const refused = async (cluster: ClusterInfo, o: Parameters<typeof fakes>[1]): Promise<string> => {
      const { deps, files, calls } = fakes(cluster, o);
      const err = (await prepareRun(EVENT, deps).catch((e: Error) => e)) as Error;
      expect(err.name).toBe('ClusterNotReady');
      expect(files).toEqual([]);
      expect(calls.some((c) => c.startsWith('claim'))).toBe(false);
      return err.message;
    };
    const PRIVATE: ClusterInfo = { ...ACTIVE, endpointPublicAccess: false, endpointPrivateAccess: true };

    it('a public-access stack and a private-only endpoint: deploy with clusterAccess=vpc', async () => {
      expect(await refused(PRIVATE, {})).toContain('its API endpoint is private: Step Functions eks:call reaches only public endpoints; deploy the stack with -c clusterAccess=vpc -c vpcSubnetIds=subnet-…,subnet-… -c vpcSecurityGroupIds=sg-…');
    });

    it('a vpc-access stack and an endpoint without private access: enable it, or deploy with clusterAccess=public', async () => {
      const message = await refused({ ...ACTIVE, endpointPrivateAccess: false }, { defaults: { clusterAccess: 'vpc' } });
      expect(message).toContain("its API endpoint has no private access, so the stack's KubeCall function in the VPC cannot reach it; enable it (aws eks update-cluster-config --name NAME --resources-vpc-config endpointPrivateAccess=true)");
    });

    it('a vpc-access stack accepts private-only and CIDR-limited endpoints', () => {
      expect(clusterProblems(PRIVATE, 'vpc')).toEqual([]);
      expect(clusterProblems({ ...ACTIVE, endpointPrivateAccess: true, publicAccessCidrs: ['203.0.113.0/24'] }, 'vpc')).toEqual([]);
    });

    it('Pod Identity and a Fargate profile taking the benchmark namespace: deploy with runnerCredentials=irsa', async () => {
      const message = await refused(ACTIVE, { defaults: { runnerRoleArn: RUNNER_ROLE }, fargateProfiles: ['fp-benchmarking'] });
      expect(message).toContain('Fargate profile fp-benchmarking runs pods of namespace benchmarking, where EKS Pod Identity does not work, so the runner pod would get no credentials to write its results; deploy the stack with -c runnerCredentials=irsa -c oidcIssuer=');
    });

    it("IRSA with another cluster's OIDC issuer: deploy with this cluster's", async () => {
      const message = await refused(ACTIVE, { defaults: { runnerRoleArn: RUNNER_ROLE, runnerCredentials: 'irsa', oidcIssuer: 'oidc.eks.us-west-2.amazonaws.com/id/0THER' } });
      expect(message).toContain(
        "the stack's runner role trusts the OIDC issuer https://oidc.eks.us-west-2.amazonaws.com/id/0THER, but the cluster's is https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE; deploy the stack again with -c oidcIssuer=https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE",
      );
    });

    it('IRSA with the cluster\'s issuer passes without asking about Pod Identity (Fargate is fine)', async () => {
      const { deps, calls } = fakes(ACTIVE, { defaults: { runnerRoleArn: RUNNER_ROLE, runnerCredentials: 'irsa', oidcIssuer: 'oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE' }, fargateProfiles: ['fp'], agentInstalled: false });
      await prepareRun(EVENT, deps);
      expect(calls.some((c) => c.startsWith('runner access'))).toBe(false);
    });

    it('a CONFIG_MAP-only cluster: switch to API_AND_CONFIG_MAP (access entries need it)', async () => {
      expect(await refused({ ...ACTIVE, authenticationMode: 'CONFIG_MAP' }, {})).toContain('aws eks update-cluster-config --name NAME --access-config authenticationMode=API_AND_CONFIG_MAP');
    });
  });

  it('refuses a cluster without the Pod Identity Agent add-on (the runner would get no credentials), naming the install command and Fargate', async () => {
    const { deps, files } = fakes(ACTIVE, { defaults: { runnerRoleArn: 'arn:aws:iam::111111111111:role/runner' }, agentInstalled: false });
    const err = (await prepareRun(EVENT, deps).catch((e: Error) => e)) as Error;
    expect(err.name).toBe('ClusterNotReady');
    expect(err.message).toMatch(/the eks-pod-identity-agent add-on is not installed, so the runner pod would get no credentials to write its results; install it \(aws eks create-addon --cluster-name NAME --addon-name eks-pod-identity-agent\), or deploy the stack with -c runnerCredentials=irsa -c oidcIssuer=/);
    expect(files).toEqual([]);
  });

  it('refuses a run that could not finish inside the execution, naming the numbers and the fix, before any AWS call', async () => {
    const long = fakes(ACTIVE, { defaults: { workflowTimeoutSeconds: 3600 } });
    const err = (await prepareRun({ ...EVENT, input: { overrides: { load: { stages: [{ rate: 1, duration: 3000 }] } } } }, long.deps).catch((e: Error) => e)) as Error;
    expect(err.name).toBe('InvalidInput');
    expect(err.message).toContain("the Job's deadline (3600 s = 3000 s of load + the stack's deadline margin) plus 900 s for aggregation is 4500 s, longer than the workflow timeout of 3600 s; shorten the load, or raise the stack's workflowTimeoutMinutes to at least 75");
    const polls = fakes(ACTIVE, { defaults: { workflowTimeoutSeconds: 86_400, job: { pollIntervalSeconds: 5 } } });
    const err2 = (await prepareRun({ ...EVENT, input: { overrides: { load: { stages: [{ rate: 1, duration: 20_000 }] } } } }, polls.deps).catch((e: Error) => e)) as Error;
    expect(err2.message).toMatch(/polling the Job every 5 s until its deadline takes 4145 polls, about 74810 execution events, over Step Functions' limit of 25000; raise the stack's pollIntervalSeconds to at least 16/);
    expect([...long.calls, ...polls.calls]).toEqual([]);
  });

  it('fails as RunInProgress, naming the run that holds the target, and creates nothing', async () => {
    const held = newClaim({ target: 'http://qwen3-vllm.default:8000', runId: '20250101T013000Z-0ther1', executionId: 'arn:other', nowMs: Date.UTC(2025, 0, 1, 1, 30), workflowTimeoutSeconds: 21_600 });
    const { deps, files } = fakes(ACTIVE, { held });
    const err = (await prepareRun(EVENT, deps).catch((e: Error) => e)) as Error;
    expect(err.name).toBe('RunInProgress');
    expect(err.message).toContain('Run 20250101T013000Z-0ther1 (execution arn:other) has been measuring http://qwen3-vllm.default:8000 since 2025-01-01T01:30:00.000Z');
    expect(files).toEqual([]);
  });

  it('releases its claim when it fails after taking it (the next run must not wait for it to lapse)', async () => {
    const { deps, claims } = fakes(ACTIVE, { failWrite: true });
    await expect(prepareRun(EVENT, deps)).rejects.toMatchObject({ name: 'AccessDenied' });
    expect(claims.size).toBe(0);
  });

  it('checks the runner ServiceAccount is associated with this stack\'s role (one association per ServiceAccount)', async () => {
    const defaults = { runnerRoleArn: 'arn:aws:iam::111111111111:role/runner' };
    expect((await prepareRun(EVENT, fakes(ACTIVE, { defaults }).deps)).runSpec.runId).toBeTruthy();
    const none = (await prepareRun(EVENT, fakes(ACTIVE, { defaults, runnerRole: null }).deps).catch((e: Error) => e)) as Error;
    expect(none.message).toMatch(/service account benchmarking\/inference-baseline-runner has no EKS Pod Identity association/);
    const other = (await prepareRun(EVENT, fakes(ACTIVE, { defaults, runnerRole: 'arn:aws:iam::111111111111:role/other-stack' }).deps).catch((e: Error) => e)) as Error;
    expect(other.name).toBe('ClusterNotReady');
    expect(other.message).toMatch(/is associated with arn:aws:iam::111111111111:role\/other-stack, not this stack's runner role .*give this stack its own runnerServiceAccount/);
  });
});

describe('handler wiring', () => {
  it('explains a missing defaults variable', async () => {
    const saved = process.env[RUN_DEFAULTS_ENV];
    delete process.env[RUN_DEFAULTS_ENV];
    await expect(handler(EVENT)).rejects.toThrow(/INFERENCE_BASELINE_DEFAULTS is not set/);
    if (saved !== undefined) process.env[RUN_DEFAULTS_ENV] = saved;
  });
});

describe('AWS adapters', () => {
  it('describeCluster maps the response and turns ResourceNotFound into ClusterNotFound', async () => {
    const ok = {
      send: async () => ({
        cluster: {
          status: 'ACTIVE',
          endpoint: 'https://x',
          certificateAuthority: { data: 'Q0E=' },
          resourcesVpcConfig: { endpointPublicAccess: true },
          accessConfig: { authenticationMode: 'API_AND_CONFIG_MAP' },
          version: '1.33',
        },
      }),
    };
    expect(await describeCluster(ok as never, 'demo', 'us-west-2')).toMatchObject({
      endpoint: 'https://x',
      certificateAuthority: 'Q0E=',
      authenticationMode: 'API_AND_CONFIG_MAP',
    });
    const missing = {
      send: async () => {
        throw new ResourceNotFoundException({ message: 'No cluster found', $metadata: {} });
      },
    };
    await expect(describeCluster(missing as never, 'nope', 'us-west-2')).rejects.toMatchObject({ name: 'ClusterNotFound' });
  });

  it('writeRunFiles never overwrites (If-None-Match on the local S3): the same bytes again are a retry, other bytes RunAlreadyExists', async () => {
    const s3 = await startLocalS3('b');
    try {
      const file = { key: 'runs/x/run-spec.json', body: '{"a":1}', contentType: 'application/json' };
      await writeRunFiles(s3.client, 'b', [file]);
      await writeRunFiles(s3.client, 'b', [file]);
      await expect(writeRunFiles(s3.client, 'b', [{ ...file, body: '{"a":2}' }])).rejects.toMatchObject({ name: 'RunAlreadyExists' });
    } finally {
      await s3.stop();
    }
  });

  it('presigns a GET exactly like AWS documents (SigV4 query-string example)', async () => {
    const url = await presignGetUrl({
      credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
      region: 'us-east-1',
      bucket: 'examplebucket',
      key: 'test.txt',
      expiresInSeconds: 86400,
      host: 'examplebucket.s3.amazonaws.com',
      signingDate: new Date('2013-05-24T00:00:00Z'),
    });
    expect(url).toBe(
      'https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
    );
  });
});

describe('bundleReaderSession (STS stand-in: AssumeRole cannot run here)', () => {
  it('assumes the reader role for as long as the URL lives (STS\'s 900 s at least), and fails in words without credentials', async () => {
    const asked: unknown[] = [];
    const sts = { send: async (c: { input: unknown }) => (asked.push(c.input), { Credentials: { AccessKeyId: 'ASIA1', SecretAccessKey: 's', SessionToken: 't' } }) };
    expect(await bundleReaderSession(sts as never, 'arn:aws:iam::1:role/reader', 3600)).toEqual({ accessKeyId: 'ASIA1', secretAccessKey: 's', sessionToken: 't' });
    await bundleReaderSession(sts as never, 'arn:aws:iam::1:role/reader', 60);
    expect(asked).toEqual([
      { RoleArn: 'arn:aws:iam::1:role/reader', RoleSessionName: 'inference-baseline-bundle', DurationSeconds: 3600 },
      { RoleArn: 'arn:aws:iam::1:role/reader', RoleSessionName: 'inference-baseline-bundle', DurationSeconds: 900 },
    ]);
    await expect(bundleReaderSession({ send: async () => ({}) } as never, 'arn:aws:iam::1:role/reader', 3600)).rejects.toThrow(/AssumeRole arn:aws:iam::1:role\/reader returned no credentials/);
  });
});
