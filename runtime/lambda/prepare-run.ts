import { createHash, randomBytes } from 'node:crypto';
import { EKSClient } from '@aws-sdk/client-eks';
import { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { describeCluster, type ClusterInfo } from '../aws/eks.ts';
import { presignGetUrl, writeRunFiles, type RunFile } from '../aws/run-files.ts';
import { jobParts, podPlacement, renderConfigMap, renderServiceAccount, runnerConfigYaml } from '../core/manifests/index.ts';
import { loadBundleBootstrap } from '../bootstrap/index.ts';
import { issueProblems } from '../core/errors.ts';
import { buildRunSpec, InvalidInputError, RUN_DEFAULTS_ENV, RunDefaults, type RunSpec } from '../core/run-spec/index.ts';

/**
 * PrepareRun: execution input + the stack's defaults → RunSpec, the cluster's endpoint and CA, the
 * Kubernetes bodies, and the run's first files in S3. Invalid input throws `InvalidInput` (every
 * problem listed) before anything is called or created.
 */

/** What the state machine passes (see the workflow's PrepareRun state). */
export const PrepareRunEvent = z.object({
  input: z.unknown(),
  executionId: z.string().optional(),
  /** The execution's start (ISO 8601): the run's time, and stable across Lambda retries. */
  startTime: z.string().optional(),
});
export type PrepareRunEvent = z.infer<typeof PrepareRunEvent>;

export interface PreparedRun {
  runSpec: RunSpec;
  cluster: { name: string; endpoint: string; certificateAuthority: string };
  manifests: {
    serviceAccount: ReturnType<typeof renderServiceAccount>;
    configMap: ReturnType<typeof renderConfigMap>;
    job: ReturnType<typeof jobParts>;
    /** The pod spec fields used when the target's zone cannot be resolved (podAffinity). */
    zoneUnknownPlacement: Record<string, unknown>;
  };
}

/** The cluster cannot be called by the workflow as it is configured. */
export class ClusterNotReadyError extends Error {
  constructor(name: string, problems: string[]) {
    super(`EKS cluster "${name}" cannot run the benchmark: ${problems.join('; ')}`);
    this.name = 'ClusterNotReady';
  }
}

/** Why Step Functions' eks:call could not reach or authenticate to this cluster. */
export function clusterProblems(info: ClusterInfo): string[] {
  const problems: string[] = [];
  if (info.status !== 'ACTIVE') problems.push(`its status is ${info.status ?? 'unknown'}, not ACTIVE`);
  if (!info.endpoint || !info.certificateAuthority) problems.push('DescribeCluster returned no endpoint or certificate authority');
  if (info.endpointPublicAccess === false) {
    problems.push('its API endpoint is private; Step Functions eks:call needs public endpoint access (enable it, optionally limited by CIDR)');
  }
  if (info.authenticationMode === 'CONFIG_MAP') {
    problems.push('its authentication mode is CONFIG_MAP; set it to API_AND_CONFIG_MAP (or API) so the stack\'s access entry applies');
  }
  return problems;
}

export interface PrepareRunDeps {
  defaults: RunDefaults;
  /** The bundle bootstrap program (runtime/bootstrap), put into the Job's command. */
  bootstrap: string;
  describeCluster(name: string): Promise<ClusterInfo>;
  presignBundle(bucket: string, key: string, expiresInSeconds: number): Promise<string>;
  writeFiles(bucket: string, files: RunFile[]): Promise<void>;
  /** Epoch ms; used when the event carries no start time. */
  now(): number;
  /** Run-id suffix source when the event carries no execution id. */
  randomSuffix(): string;
}

/** How long the runner pods have to fetch the bundle after PrepareRun. */
export const BUNDLE_URL_SECONDS = 3600;

export function runIdSuffix(executionId: string): string {
  return createHash('sha256').update(executionId).digest('hex').slice(0, 6);
}

export async function prepareRun(event: unknown, deps: PrepareRunDeps): Promise<PreparedRun> {
  const parsed = PrepareRunEvent.safeParse(event);
  if (!parsed.success) throw new InvalidInputError(issueProblems(parsed.error.issues, { at: ['event'] }));
  const { input, executionId, startTime } = parsed.data;
  const started = startTime !== undefined ? Date.parse(startTime) : Number.NaN;
  const runSpec = buildRunSpec({
    input,
    defaults: deps.defaults,
    now: Number.isFinite(started) ? started : deps.now(),
    suffix: executionId ? runIdSuffix(executionId) : deps.randomSuffix(),
    ...(executionId ? { executionId } : {}),
  });

  const info = await deps.describeCluster(runSpec.cluster.name);
  const problems = clusterProblems(info);
  if (problems.length > 0) throw new ClusterNotReadyError(runSpec.cluster.name, problems);

  const bundleUrl = runSpec.bundle ? await deps.presignBundle(runSpec.bundle.bucket, runSpec.bundle.key, BUNDLE_URL_SECONDS) : undefined;
  const prepared: PreparedRun = {
    runSpec,
    cluster: { name: info.name, endpoint: info.endpoint as string, certificateAuthority: info.certificateAuthority as string },
    manifests: {
      serviceAccount: renderServiceAccount(runSpec),
      configMap: renderConfigMap(runSpec),
      job: jobParts(runSpec, bundleUrl ? { bundle: { url: bundleUrl, bootstrap: deps.bootstrap } } : {}),
      zoneUnknownPlacement: podPlacement(runSpec, null),
    },
  };
  // config.yml has one writer per run (core/run-layout.ts): the native runner writes the config it
  // ran; inference-perf keeps its own copy under raw/, so PrepareRun writes it for that runner only.
  await deps.writeFiles(runSpec.s3.bucket, [
    { key: runSpec.s3.runSpecKey, body: `${JSON.stringify(runSpec, null, 2)}\n`, contentType: 'application/json' },
    ...(runSpec.runner.kind === 'inference-perf' ? [{ key: runSpec.s3.configKey, body: runnerConfigYaml(runSpec), contentType: 'application/yaml' }] : []),
  ]);
  return prepared;
}

let wired: PrepareRunDeps | undefined;

function wire(env: NodeJS.ProcessEnv): PrepareRunDeps {
  const raw = env[RUN_DEFAULTS_ENV];
  if (!raw) throw new Error(`${RUN_DEFAULTS_ENV} is not set: the function must be deployed by the inference-baseline stack`);
  const defaults = RunDefaults.parse(JSON.parse(raw));
  const eks = new EKSClient({ region: defaults.region });
  const s3 = new S3Client({ region: defaults.region });
  const dnsSuffix = defaults.region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return {
    defaults,
    bootstrap: loadBundleBootstrap(),
    describeCluster: (name) => describeCluster(eks, name, defaults.region),
    presignBundle: (bucket, key, expiresInSeconds) =>
      presignGetUrl({ credentials: s3.config.credentials, region: defaults.region, bucket, key, expiresInSeconds, dnsSuffix }),
    writeFiles: (bucket, files) => writeRunFiles(s3, bucket, files),
    now: () => Date.now(),
    randomSuffix: () => randomBytes(3).toString('hex'),
  };
}

export async function handler(event: unknown): Promise<PreparedRun> {
  wired ??= wire(process.env);
  return prepareRun(event, wired);
}
