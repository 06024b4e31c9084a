import { ResourceNotFoundException } from '@aws-sdk/client-eks';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Job } from 'kubernetes-models/batch/v1';
import { describe, expect, it } from 'vitest';
import { loadBundleBootstrap } from '../../runtime/bootstrap/index.ts';
import { describeCluster, type ClusterInfo } from '../../runtime/aws/eks.ts';
import { presignGetUrl, writeRunFiles } from '../../runtime/aws/run-files.ts';
import { assembleJob, renderJob } from '../../runtime/core/manifests/index.ts';
import { RUN_DEFAULTS_ENV } from '../../runtime/core/run-spec/index.ts';
import { clusterProblems, handler, prepareRun, runIdSuffix, type PrepareRunDeps } from '../../runtime/lambda/prepare-run.ts';
import { seedDefaults } from '../core/run-spec-fixture.ts';

const ACTIVE: ClusterInfo = {
  name: 'demo',
  status: 'ACTIVE',
  endpoint: 'https://ABC.gr7.us-west-2.eks.amazonaws.com',
  certificateAuthority: 'LS0tCg==',
  endpointPublicAccess: true,
  authenticationMode: 'API',
  version: '1.33',
};

function fakes(cluster: ClusterInfo = ACTIVE) {
  const calls: string[] = [];
  const files: Array<{ bucket: string; key: string; body: string }> = [];
  const deps: PrepareRunDeps = {
    defaults: seedDefaults(),
    bootstrap: loadBundleBootstrap(),
    describeCluster: async (name) => {
      calls.push(`describe ${name}`);
      return cluster;
    },
    presignBundle: async (bucket, key, seconds) => {
      calls.push(`presign ${bucket}/${key} ${seconds}`);
      return `https://${bucket}.s3.amazonaws.com/${key}?sig`;
    },
    writeFiles: async (bucket, fs) => {
      files.push(...fs.map((f) => ({ bucket, key: f.key, body: f.body })));
    },
    now: () => Date.UTC(2025, 0, 1, 2),
    randomSuffix: () => 'r4nd0m',
  };
  return { deps, calls, files };
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
    expect(calls).toEqual(['describe demo', 'presign cdk-assets/abc.mjs 3600']);
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
    expect(calls).toEqual(['describe demo']);
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

  it('writeRunFiles never overwrites: If-None-Match, and 412 → RunAlreadyExists', async () => {
    const sent: PutObjectCommand[] = [];
    const ok = { send: async (c: PutObjectCommand) => void sent.push(c) };
    await writeRunFiles(ok as never, 'b', [{ key: 'runs/x/run-spec.json', body: '{}', contentType: 'application/json' }]);
    expect(sent[0]?.input).toMatchObject({ Bucket: 'b', Key: 'runs/x/run-spec.json', IfNoneMatch: '*' });
    const exists = {
      send: async () => {
        throw Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), { name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
      },
    };
    await expect(writeRunFiles(exists as never, 'b', [{ key: 'k', body: '', contentType: 't' }])).rejects.toMatchObject({ name: 'RunAlreadyExists' });
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
