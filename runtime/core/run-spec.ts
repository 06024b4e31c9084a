import { z } from 'zod';
import { InputError } from './errors.ts';
import { mergeConfig, parseScenario, presetConfig, presetNames, ScenarioConfig } from './scenario/index.ts';

/**
 * The execution input (console `{}`, the nightly schedule, `inference-baseline start`) and the
 * stack's defaults → one `RunSpec`: every name, S3 key and number a run needs, decided once, here,
 * by pure code. Nothing in this file reads a clock or the environment: `now` and the run-id suffix
 * are passed in (DESIGN.md §3 "Execution input", "S3 layout").
 */

export const runnerKinds = ['native', 'inference-perf'] as const;
export type RunnerKind = (typeof runnerKinds)[number];

/** How the native runner reaches the pod: an S3 bundle fetched by a stock Node image, or an image built from the Dockerfile. */
export const runnerDeliveries = ['bundle', 'image'] as const;
export type RunnerDelivery = (typeof runnerDeliveries)[number];

/** `runId` = UTC `YYYYMMDDTHHMMSSZ` + `-` + a short lower-case suffix. */
export const RUN_ID_PATTERN = /^\d{8}T\d{6}Z-[a-z0-9]{4,12}$/;

/** Label keys / values as Kubernetes accepts them (equality selectors only). */
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * Parses an equality label selector (`a=b,c=d`, or a `{a: "b"}` map) into a label map; returns the
 * problems instead when it is not one. Set-based selectors (`in`, `!=`) are not supported: the same
 * labels also become the Job's podAffinity `matchLabels`.
 */
export function parseLabelSelector(selector: string | Record<string, string>): { labels: Record<string, string> } | { problems: string[] } {
  const pairs: Array<[string, string]> = [];
  const problems: string[] = [];
  if (typeof selector === 'string') {
    for (const part of selector.split(',').map((p) => p.trim())) {
      if (part === '') continue;
      const m = /^([^=!\s]+)\s*==?\s*([^=!\s]*)$/.exec(part);
      if (!m) {
        problems.push(`"${part}" is not a key=value pair (only equality selectors are supported)`);
        continue;
      }
      pairs.push([m[1] as string, m[2] as string]);
    }
  } else {
    pairs.push(...Object.entries(selector));
  }
  for (const [key, value] of pairs) {
    if (!LABEL_KEY.test(key) || key.length > 316) problems.push(`"${key}" is not a valid label key`);
    if (!LABEL_VALUE.test(value)) problems.push(`"${value}" (for ${key}) is not a valid label value`);
  }
  if (pairs.length === 0 && problems.length === 0) problems.push('selects no labels; give at least one key=value');
  return problems.length > 0 ? { problems } : { labels: Object.fromEntries(pairs) };
}

export function labelSelectorText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

const PodSelectorInput = z.union([z.string(), z.record(z.string(), z.string())]);

/** What a person (or the schedule) may pass to StartExecution. `{}` is valid. */
export const ExecutionInput = z.strictObject({
  /** A preset name (`baseline`, …); default: the stack's scenario. */
  scenario: z.string().min(1).optional(),
  /** A partial inference-perf-style config deep-merged onto the preset (arrays replace). */
  overrides: z.record(z.string(), z.unknown()).optional(),
  target: z
    .strictObject({
      baseUrl: z.url({ protocol: /^https?$/ }).optional(),
      modelName: z.string().min(1).optional(),
      /** Labels of the inference pods (`app.kubernetes.io/component=qwen3-vllm` or a map). */
      podSelector: PodSelectorInput.optional(),
    })
    .optional(),
  runner: z.enum(runnerKinds).optional(),
  runId: z.string().regex(RUN_ID_PATTERN, 'must look like 20250101T020000Z-ab12cd (UTC time, "-", 4–12 lower-case letters/digits)').optional(),
});
export type ExecutionInput = z.infer<typeof ExecutionInput>;

const Resources = z.strictObject({
  requests: z.strictObject({ cpu: z.string(), memory: z.string() }),
  limits: z.strictObject({ cpu: z.string(), memory: z.string() }),
});
export type Resources = z.infer<typeof Resources>;

/** The seed's runner resources: requests cpu 2 / mem 4Gi, limits cpu 4 / mem 8Gi. */
export const seedResources: Resources = { requests: { cpu: '2', memory: '4Gi' }, limits: { cpu: '4', memory: '8Gi' } };

/** The tag the stack puts on its state machine so `start --stack NAME` can find it. */
export const STACK_TAG = 'inference-baseline:stack';

/** The environment variable through which the stack hands PrepareRun its RunDefaults (JSON). */
export const RUN_DEFAULTS_ENV = 'INFERENCE_BASELINE_DEFAULTS';

/** The stack's defaults, handed to PrepareRun by the stack (one JSON environment variable). */
export const RunDefaults = z.strictObject({
  clusterName: z.string().min(1),
  region: z.string().min(1),
  bucket: z.string().min(1),
  scenario: z.string().min(1).default('baseline'),
  runner: z.enum(runnerKinds).default('native'),
  runnerDelivery: z.enum(runnerDeliveries).default('bundle'),
  target: z.strictObject({
    baseUrl: z.url({ protocol: /^https?$/ }),
    modelName: z.string().min(1),
    tokenizer: z.string().min(1).optional(),
    namespace: z.string().regex(DNS_LABEL),
    podSelector: z.record(z.string(), z.string()),
  }),
  benchmarkNamespace: z.string().regex(DNS_LABEL),
  serviceAccountName: z.string().regex(DNS_LABEL),
  images: z.strictObject({
    /** Stock Node 22 image that fetches the runner bundle (bundle delivery). */
    node: z.string().min(1),
    /** Full image reference of inference-perf. */
    inferencePerf: z.string().min(1),
    /** Image built from the Dockerfile (image delivery). */
    runner: z.string().min(1).optional(),
  }),
  /** The runner bundle asset (bundle delivery); its sha256 is checked in the pod. */
  bundle: z.strictObject({ bucket: z.string(), key: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).optional(),
  job: z
    .strictObject({
      /** Added to the scenario's duration for image pull, bundle download, warm-up and drain. */
      deadlineMarginSeconds: z.number().int().positive().default(600),
      ttlSecondsAfterFinished: z.number().int().nonnegative().default(3600),
      pollIntervalSeconds: z.number().int().min(5).max(600).default(30),
      /** Requests/s one native runner pod is trusted to pace precisely; more → more pods (Indexed Job shards). */
      maxRatePerPod: z.number().positive().default(50),
      resources: Resources.default(seedResources),
    })
    .default({ deadlineMarginSeconds: 600, ttlSecondsAfterFinished: 3600, pollIntervalSeconds: 30, maxRatePerPod: 50, resources: seedResources }),
});
export type RunDefaults = z.infer<typeof RunDefaults>;
export type RunDefaultsInput = z.input<typeof RunDefaults>;

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
  }),
  cluster: z.object({ name: z.string(), region: z.string(), benchmarkNamespace: z.string(), serviceAccountName: z.string() }),
  /**
   * `zone` is null until the workflow's LocateZone step; then the availability zone the Job was
   * pinned to, or `"unknown"` when it could not be resolved (Fargate: podAffinity keeps the Job in
   * the target pods' zone without naming it).
   */
  placement: z.object({ zone: z.string().nullable() }),
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
    resources: Resources,
  }),
  bundle: z.object({ bucket: z.string(), key: z.string(), sha256: z.string() }).nullable(),
});
export type RunSpec = z.infer<typeof RunSpec>;

/** Seconds the workflow keeps polling after the deadline so Kubernetes can report the failure. */
export const POLL_GRACE_SECONDS = 120;

export interface BuildRunSpecArgs {
  /** The execution input as received (unknown: it is validated here). */
  input: unknown;
  defaults: RunDefaults;
  /** The run's start, epoch ms (the execution's start time, or the CLI's clock). */
  now: number;
  /** 4–12 lower-case letters/digits; used when the input names no runId. */
  suffix: string;
  executionId?: string;
  /** A whole scenario config used instead of the preset (`render --config FILE`); overrides still apply. */
  baseConfig?: unknown;
}

/** Every problem in the input, by path, in one `InputError` (name `InvalidInput` for the workflow). */
export class InvalidInputError extends InputError {
  constructor(problems: string[]) {
    super('execution input', problems, 'correct the fields named above; `{}` runs the stack\'s default baseline.');
    this.name = 'InvalidInput';
  }
}

/** Builds the RunSpec, or throws `InvalidInputError` listing every problem in the input. */
export function buildRunSpec(args: BuildRunSpecArgs): RunSpec {
  const { defaults } = args;
  const problems: string[] = [];
  const input = parseInputFields(args.input ?? {}, problems);
  const scenario = input.scenario ?? defaults.scenario;
  const kind = input.runner ?? defaults.runner;

  let podSelector = defaults.target.podSelector;
  if (input.target?.podSelector !== undefined) {
    const sel = parseLabelSelector(input.target.podSelector);
    if ('problems' in sel) problems.push(...sel.problems.map((p) => `target.podSelector: ${p}`));
    else podSelector = sel.labels;
  }

  let base: unknown = args.baseConfig;
  if (base !== undefined) {
    // A config file replaces the preset; the scenario name only labels the run.
  } else if (!(presetNames as string[]).includes(scenario)) {
    problems.push(`scenario: unknown scenario "${scenario}"; known: ${presetNames.join(', ')}`);
  } else {
    base = presetConfig(scenario);
  }

  const runId = input.runId ?? formatRunId(args.now, args.suffix);
  if (!RUN_ID_PATTERN.test(runId)) problems.push(`runId: "${runId}" is not a valid run id`);

  if (kind === 'native' && defaults.runnerDelivery === 'image' && !defaults.images.runner) {
    problems.push('runner: the stack uses runner image delivery but has no runner image configured (stack context runnerImage)');
  }
  if (kind === 'native' && defaults.runnerDelivery === 'bundle' && !defaults.bundle) {
    problems.push('runner: the stack has no runner bundle; choose runner "inference-perf" or redeploy the stack');
  }

  let config: ScenarioConfig | undefined;
  if (base !== undefined) {
    const baseUrl = input.target?.baseUrl;
    const modelName = input.target?.modelName;
    // Precedence: preset < stack defaults < overrides < input.target.
    const stackLayer = {
      server: { base_url: defaults.target.baseUrl, model_name: defaults.target.modelName },
      ...(defaults.target.tokenizer ? { tokenizer: { pretrained_model_name_or_path: defaults.target.tokenizer } } : {}),
    };
    const targetLayer = {
      server: { ...(baseUrl ? { base_url: baseUrl } : {}), ...(modelName ? { model_name: modelName } : {}) },
    };
    const merged = mergeConfig(mergeConfig(mergeConfig(base, stackLayer), input.overrides ?? {}), targetLayer);
    try {
      config = parseScenario(merged, 'overrides');
    } catch (err) {
      if (err instanceof InputError) problems.push(...err.problems.map((p) => `overrides: ${p}`));
      else throw err;
    }
  }
  if (problems.length > 0 || config === undefined) throw new InvalidInputError(problems);

  const model = config.server.model_name ?? defaults.target.modelName;
  const prefix = runPrefix(scenario, model, runId);
  const s3 = {
    bucket: defaults.bucket,
    prefix,
    uri: `s3://${defaults.bucket}/${prefix}`,
    outUri: `s3://${defaults.bucket}/${prefix.slice(0, prefix.length - runId.length - 1)}`,
    runSpecKey: `${prefix}run-spec.json`,
    configKey: `${prefix}config.yml`,
    rawPrefix: `${prefix}raw/`,
    requestsPrefix: `${prefix}requests/`,
    summaryKey: `${prefix}summary.json`,
    histogramsKey: `${prefix}histograms.json`,
    reportKey: `${prefix}report.html`,
  };
  const finalConfig = withStorage(config, kind, defaults.bucket, prefix);
  const loadSeconds = scenarioSeconds(finalConfig);
  const activeDeadlineSeconds = Math.ceil(loadSeconds + defaults.job.deadlineMarginSeconds);
  const parallelism = kind === 'native' ? runnerPods(finalConfig, defaults.job.maxRatePerPod) : 1;
  const names = resourceNames(scenario, runId);

  return {
    v: 1,
    runId,
    ...(args.executionId ? { executionId: args.executionId } : {}),
    createdAt: new Date(args.now).toISOString(),
    scenario,
    model,
    runner: runnerOf(kind, defaults),
    config: finalConfig,
    target: {
      baseUrl: config.server.base_url,
      modelName: model,
      namespace: defaults.target.namespace,
      podSelector,
      labelSelector: labelSelectorText(podSelector),
    },
    cluster: {
      name: defaults.clusterName,
      region: defaults.region,
      benchmarkNamespace: defaults.benchmarkNamespace,
      serviceAccountName: defaults.serviceAccountName,
    },
    placement: { zone: null },
    s3,
    names: { ...names, serviceAccount: defaults.serviceAccountName },
    job: {
      parallelism,
      completions: parallelism,
      loadSeconds,
      activeDeadlineSeconds,
      ttlSecondsAfterFinished: defaults.job.ttlSecondsAfterFinished,
      pollIntervalSeconds: defaults.job.pollIntervalSeconds,
      maxPolls: maxPolls(activeDeadlineSeconds, defaults.job.pollIntervalSeconds),
      resources: defaults.job.resources,
    },
    bundle: kind === 'native' && defaults.runnerDelivery === 'bundle' && defaults.bundle ? defaults.bundle : null,
  };
}

/**
 * Validates each field of the execution input on its own, so one bad field does not hide the
 * problems of the others (an invalid runner and invalid overrides are reported together).
 */
function parseInputFields(raw: unknown, problems: string[]): ExecutionInput {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push('(top level): must be a JSON object such as {} or {"scenario": "baseline"}');
    return {};
  }
  const shape = ExecutionInput.shape;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const field = (shape as Record<string, z.ZodType>)[key];
    if (!field) {
      problems.push(`${key}: unknown key; supported: ${Object.keys(shape).join(', ')}`);
      continue;
    }
    const r = field.safeParse(value);
    if (r.success) out[key] = r.data;
    else problems.push(...r.error.issues.map((i) => describeIssue({ ...i, path: [key, ...i.path] } as z.core.$ZodIssue)));
  }
  return out as ExecutionInput;
}

function runnerOf(kind: RunnerKind, defaults: RunDefaults): RunSpec['runner'] {
  if (kind === 'inference-perf') return { kind, delivery: 'tool', image: defaults.images.inferencePerf };
  if (defaults.runnerDelivery === 'image') return { kind, delivery: 'image', image: defaults.images.runner ?? '' };
  return { kind, delivery: 'bundle', image: defaults.images.node };
}

/** `YYYYMMDDTHHMMSSZ-<suffix>` in UTC. */
export function formatRunId(now: number, suffix: string): string {
  const iso = new Date(now).toISOString(); // 2025-01-01T02:00:00.000Z
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return `${stamp}-${suffix}`;
}

/** A model name as one S3 key segment (`Qwen/Qwen3-8B` → `Qwen-Qwen3-8B`). */
export function modelSegment(model: string): string {
  const s = model.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '');
  return s === '' ? 'model' : s;
}

/** `runs/<scenario>/<model>/<runId>/`. */
export function runPrefix(scenario: string, model: string, runId: string): string {
  return `runs/${modelSegment(scenario)}/${modelSegment(model)}/${runId}/`;
}

/** DNS-1123 Job and ConfigMap names, ≤ 63 characters, unique per run. */
export function resourceNames(scenario: string, runId: string): { job: string; configMap: string } {
  const id = runId.toLowerCase();
  const suffix = '-cfg';
  const room = 63 - 'ib-'.length - 1 - id.length - suffix.length;
  let slug = scenario
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, Math.max(0, room))
    .replace(/^-+|-+$/g, '');
  if (slug === '') slug = 'run';
  const job = `ib-${slug}-${id}`;
  return { job, configMap: `${job}${suffix}` };
}

/** Seconds of load: every stage's duration plus the idle interval between stages. */
export function scenarioSeconds(config: ScenarioConfig): number {
  const stages = config.load.stages;
  return stages.reduce((sum, s) => sum + s.duration, 0) + config.load.interval * Math.max(0, stages.length - 1);
}

/** Native runner pods: enough that no pod paces more than `maxRatePerPod` requests/s. */
export function runnerPods(config: ScenarioConfig, maxRatePerPod: number): number {
  const peak = Math.max(...config.load.stages.map((s) => s.rate));
  return Math.max(1, Math.ceil(peak / maxRatePerPod));
}

/** GetJob polls the workflow allows: the deadline plus a grace for Kubernetes to report, at the poll interval. */
export function maxPolls(activeDeadlineSeconds: number, pollIntervalSeconds: number): number {
  return Math.ceil((activeDeadlineSeconds + POLL_GRACE_SECONDS) / pollIntervalSeconds) + 1;
}

/** Points the config's storage at the run prefix (inference-perf writes under `raw/`) and forces per-request records. */
function withStorage(config: ScenarioConfig, kind: RunnerKind, bucket: string, prefix: string): ScenarioConfig {
  const out: ScenarioConfig = structuredClone(config);
  const path = kind === 'inference-perf' ? `${prefix}raw` : prefix.replace(/\/$/, '');
  out.storage = {
    simple_storage_service: { ...(config.storage?.simple_storage_service ?? {}), bucket_name: bucket, path },
  };
  if (kind === 'inference-perf') {
    out.report = {
      ...(config.report ?? {}),
      request_lifecycle: { ...(config.report?.request_lifecycle ?? {}), per_request: true },
    };
  }
  return out;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const at = issue.path.map(String).join('.') || '(top level)';
  if (issue.code === 'unrecognized_keys') {
    const supported = issue.path[0] === 'target' ? 'baseUrl, modelName, podSelector' : 'scenario, overrides, target, runner, runId';
    const keys = issue.keys.map((k) => (at === '(top level)' ? k : `${at}.${k}`));
    return `${keys.join(', ')}: unknown key${keys.length > 1 ? 's' : ''}; supported: ${supported}`;
  }
  if (issue.code === 'invalid_value') return `${at}: unsupported value; supported: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  return `${at}: ${issue.message}`;
}
