import { EKSClient } from '@aws-sdk/client-eks';
import { S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { z } from 'zod';
import { acquireClaim, releaseClaim, type ClaimRequest } from '../aws/claims.ts';
import { clusterProblems, describeCluster, describeRunnerAccess, fargateProfilesFor, podIdentityAgentInstalled, runnerAccessProblems, type ClusterInfo, type RunnerAccess } from '../aws/eks.ts';
import { presignGetUrl, writeRunFiles, type RunFile } from '../aws/run-files.ts';
import { runIdSuffix } from '../aws/sfn.ts';
import { loadBundleBootstrap } from '../bootstrap/index.ts';
import { issueProblems } from '../core/errors.ts';
import { jobParts, podPlacement, renderConfigMap, renderServiceAccount, runnerConfigYaml } from '../core/manifests/index.ts';
import { BUNDLE_READER_ENV, buildRunSpec, InvalidInputError, RUN_DEFAULTS_ENV, RunDefaults, runLimitProblems, type RunSpec } from '../core/run-spec/index.ts';
import { randomSuffix } from '../core/run-spec/naming.ts';

/**
 * PrepareRun: execution input + the stack's defaults → RunSpec, the cluster's endpoint and CA, the
 * Kubernetes bodies, the run's claim on its target, and its first files in S3. Invalid input — or a
 * run that could not finish inside one execution — throws `InvalidInput` (every problem listed);
 * another run on the target throws `RunInProgress`; both before anything is created.
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

export interface PrepareRunDeps {
  defaults: RunDefaults;
  /** The bundle bootstrap program (runtime/bootstrap), put into the Job's command. */
  bootstrap: string;
  describeCluster(name: string): Promise<ClusterInfo>;
  /**
   * With Pod Identity: the role the runner's ServiceAccount is associated with, whether the Pod
   * Identity Agent add-on is installed, and the Fargate profiles that take the benchmark namespace.
   */
  describeRunnerAccess(cluster: string, namespace: string, serviceAccount: string): Promise<Omit<Extract<RunnerAccess, { mode: 'pod-identity' }>, 'mode'>>;
  presignBundle(bucket: string, key: string, expiresInSeconds: number): Promise<string>;
  writeFiles(bucket: string, files: RunFile[]): Promise<void>;
  claims: { acquire(r: ClaimRequest): Promise<unknown>; release(bucket: string, target: string, executionId: string): Promise<boolean> };
  /** Epoch ms; used when the event carries no start time. */
  now(): number;
  /** Run-id suffix source when the event carries no execution id. */
  randomSuffix(): string;
}

/** How long the runner pods have to fetch the bundle after PrepareRun. */
export const BUNDLE_URL_SECONDS = 3600;

export async function prepareRun(event: unknown, deps: PrepareRunDeps): Promise<PreparedRun> {
  const parsed = PrepareRunEvent.safeParse(event, { reportInput: true });
  if (!parsed.success) throw new InvalidInputError(issueProblems(parsed.error.issues, { at: ['event'] }));
  const { input, executionId, startTime } = parsed.data;
  const started = startTime !== undefined ? Date.parse(startTime) : Number.NaN;
  const now = Number.isFinite(started) ? started : deps.now();
  const runSpec = buildRunSpec({
    input,
    defaults: deps.defaults,
    now,
    suffix: executionId ? runIdSuffix(executionId) : deps.randomSuffix(),
    ...(executionId ? { executionId } : {}),
  });
  const limits = runLimitProblems(runSpec, deps.defaults.workflowTimeoutSeconds);
  if (limits.length > 0) throw new InvalidInputError(limits);

  const info = await deps.describeCluster(runSpec.cluster.name);
  const problems = clusterProblems(info, deps.defaults.clusterAccess);
  if (deps.defaults.runnerRoleArn && runSpec.runner.kind === 'native') {
    const { benchmarkNamespace: ns, name } = runSpec.cluster;
    const access: RunnerAccess = deps.defaults.runnerCredentials === 'irsa' ? { mode: 'irsa' } : { mode: 'pod-identity', ...(await deps.describeRunnerAccess(name, ns, runSpec.names.serviceAccount)) };
    problems.push(...runnerAccessProblems(access, { roleArn: deps.defaults.runnerRoleArn, oidcIssuer: deps.defaults.oidcIssuer }, info, ns, runSpec.names.serviceAccount));
  }
  if (problems.length > 0) throw new ClusterNotReadyError(runSpec.cluster.name, problems);

  const claimant = executionId ?? runSpec.runId;
  await deps.claims.acquire({ bucket: runSpec.s3.bucket, target: runSpec.target.baseUrl, runId: runSpec.runId, executionId: claimant, nowMs: now, workflowTimeoutSeconds: deps.defaults.workflowTimeoutSeconds });
  try {
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
  } catch (err) {
    // Nothing will run: the next run must not wait for this one's claim to lapse.
    await deps.claims.release(runSpec.s3.bucket, runSpec.target.baseUrl, claimant).catch(() => false);
    throw err;
  }
}

/**
 * The AWS side of PrepareRun, from the stack's defaults (the local workflow builds its own). The
 * bundle's URL is presigned by a session of the BundleReader role assumed for exactly as long as the
 * URL: a URL signed with the function's own (temporary) credentials would die with them.
 */
export function awsPrepareRunDeps(defaults: RunDefaults, bundleReaderRoleArn: string | undefined): PrepareRunDeps {
  const eks = new EKSClient({ region: defaults.region });
  const s3 = new S3Client({ region: defaults.region });
  const sts = new STSClient({ region: defaults.region });
  const dnsSuffix = defaults.region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return {
    defaults,
    bootstrap: loadBundleBootstrap(),
    describeCluster: (name) => describeCluster(eks, name, defaults.region),
    describeRunnerAccess: async (cluster, namespace, sa) => ({
      ...(await describeRunnerAccess(eks, cluster, namespace, sa)),
      agentInstalled: await podIdentityAgentInstalled(eks, cluster),
      fargateProfiles: await fargateProfilesFor(eks, cluster, namespace),
    }),
    presignBundle: async (bucket, key, expiresInSeconds) => {
      if (!bundleReaderRoleArn) throw new Error(`${BUNDLE_READER_ENV} is not set: the function must be deployed by the inference-baseline stack`);
      const credentials = await bundleReaderSession(sts, bundleReaderRoleArn, expiresInSeconds);
      return presignGetUrl({ credentials, region: defaults.region, bucket, key, expiresInSeconds, dnsSuffix });
    },
    writeFiles: (bucket, files) => writeRunFiles(s3, bucket, files),
    claims: { acquire: (r) => acquireClaim(s3, r), release: (bucket, target, id) => releaseClaim(s3, bucket, target, id) },
    now: () => Date.now(),
    randomSuffix: () => randomSuffix(Math.random),
  };
}

/** The stack's defaults, from the one environment variable the stack sets. */
export function defaultsFromEnv(env: NodeJS.ProcessEnv): RunDefaults {
  const raw = env[RUN_DEFAULTS_ENV];
  if (!raw) throw new Error(`${RUN_DEFAULTS_ENV} is not set: the function must be deployed by the inference-baseline stack`);
  return RunDefaults.parse(JSON.parse(raw));
}

/** A session of the bundle reader role lasting `seconds` (STS allows 900 s to the role's maximum). */
export async function bundleReaderSession(sts: Pick<STSClient, 'send'>, roleArn: string, seconds: number): Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken: string }> {
  const { Credentials: c } = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'inference-baseline-bundle', DurationSeconds: Math.max(900, seconds) }));
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) throw new Error(`AssumeRole ${roleArn} returned no credentials`);
  return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken };
}

let wired: PrepareRunDeps | undefined;

export async function handler(event: unknown): Promise<PreparedRun> {
  wired ??= awsPrepareRunDeps(defaultsFromEnv(process.env), process.env[BUNDLE_READER_ENV]);
  return prepareRun(event, wired);
}
