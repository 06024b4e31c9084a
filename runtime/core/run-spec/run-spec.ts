import { z } from 'zod';
import { runnerKinds } from '../records/run-manifest.ts';
import { ScenarioConfig } from '../scenario/index.ts';
import { runnerDeliveries } from './stack-defaults.ts';

const Resources = z.object({
  requests: z.object({ cpu: z.string(), memory: z.string() }),
  limits: z.object({ cpu: z.string(), memory: z.string() }),
});

/**
 * One run, fully decided: every name, S3 key and number the workflow, the Job and the aggregator
 * need. Built by `buildRunSpec` from the execution input and the stack's defaults;
 * written to `run-spec.json`.
 */
export const RunSpec = z.object({
  v: z.literal(1),
  runId: z.string(),
  /** The Step Functions execution that owns the run (absent for `render`). */
  executionId: z.string().optional(),
  createdAt: z.string(),
  scenario: z.string(),
  model: z.string(),
  runner: z.object({ kind: z.enum(runnerKinds), delivery: z.enum([...runnerDeliveries, 'tool']), image: z.string() }),
  /** The scenario config the runner uses, fully merged and validated. */
  config: ScenarioConfig,
  target: z.object({
    baseUrl: z.string(),
    modelName: z.string(),
    namespace: z.string(),
    podSelector: z.record(z.string(), z.string()),
    labelSelector: z.string(),
    /** Each target pod's Prometheus endpoint (the runner scrapes every replica the workflow found). */
    metrics: z.object({ port: z.number().int(), path: z.string() }).optional(),
  }),
  cluster: z.object({ name: z.string(), region: z.string(), benchmarkNamespace: z.string(), serviceAccountName: z.string() }),
  /**
   * `zone` is null until the workflow's LocateZone step; then the availability zone the Job was
   * pinned to, or `"unknown"` when it could not be resolved (Fargate: podAffinity keeps the Job in
   * the target pods' zone without naming it).
   */
  placement: z.object({ zone: z.string().nullable() }),
  /** What the workflow found the run measures against (the target pod, its node); absent before FindTargetPods, and for `render`. */
  observed: z
    .object({ podName: z.string(), nodeName: z.string(), images: z.array(z.string()), instanceType: z.string().optional() })
    .optional(),
  s3: z.object({
    bucket: z.string(),
    /** `runs/<scenario>/<model>/<runId>/` (trailing slash). */
    prefix: z.string(),
    uri: z.string(),
    /** The run prefix's parent (`s3://<bucket>/runs/<scenario>/<model>/`): the CLI's `run --out` writes `<out>/<runId>/`. */
    outUri: z.string(),
    runSpecKey: z.string(),
    configKey: z.string(),
    /** inference-perf's files (`<prefix>raw/`). */
    rawPrefix: z.string(),
    /** Native runner shards (`<prefix>requests/`). */
    requestsPrefix: z.string(),
    summaryKey: z.string(),
    histogramsKey: z.string(),
    reportKey: z.string(),
  }),
  names: z.object({ job: z.string(), configMap: z.string(), serviceAccount: z.string() }),
  job: z.object({
    parallelism: z.number().int().positive(),
    completions: z.number().int().positive(),
    /** Scenario duration (stages + intervals) in seconds. */
    loadSeconds: z.number().positive(),
    activeDeadlineSeconds: z.number().int().positive(),
    ttlSecondsAfterFinished: z.number().int().nonnegative(),
    pollIntervalSeconds: z.number().int().positive(),
    /** The workflow's bound on GetJob polls (derived from activeDeadlineSeconds). */
    maxPolls: z.number().int().positive(),
    /** The stack's schedulingGraceSeconds: how long a runner pod may stay unschedulable. */
    schedulingGraceSeconds: z.number().int().positive(),
    /** From this poll on, a Job with no ready pod has its Pending pods inspected (the grace at the poll interval). */
    schedulingPolls: z.number().int().positive(),
    resources: Resources,
  }),
  bundle: z.object({ bucket: z.string(), key: z.string(), sha256: z.string() }).nullable(),
  /** The stack's Hugging Face hub settings for the runner pod (RunDefaults.hub); absent: the public hub, no token. */
  hub: z.object({ endpoint: z.string().optional(), tokenSecret: z.string().optional() }).optional(),
  /** With `runnerCredentials: irsa`: the role the runner's ServiceAccount is annotated with (IAM roles for service accounts). */
  irsaRoleArn: z.string().optional(),
  /** How Aggregate compares the run with its history (execution input `compare`; defaults when absent). */
  compare: z.object({ windowSize: z.number().int().optional(), reference: z.array(z.string()).optional() }).optional(),
  /** `history/<scenario>/<model>/`: the series' history entries in the results bucket. */
  historyPrefix: z.string().optional(),
});
export type RunSpec = z.infer<typeof RunSpec>;
