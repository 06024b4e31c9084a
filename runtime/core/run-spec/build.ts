import { InputError } from '../errors.ts';
import type { RunnerKind } from '../records/run-manifest.ts';
import {
  CONFIG_FILE,
  HISTOGRAMS_FILE,
  historySeriesPath,
  RAW_DIR,
  REPORT_FILE,
  REQUESTS_DIR,
  RUN_SPEC_FILE,
  runPrefix,
  seriesPrefix,
  SUMMARY_FILE,
} from '../run-layout.ts';
import { layerConfig, parseScenario, presetConfig, presetNames, resolveScenario, tooFewRequestsProblems, workLimitProblems, type ScenarioConfig } from '../scenario/index.ts';
import { InvalidInputError, parseExecutionInput } from './execution-input.ts';
import { labelSelectorText, parseLabelSelector } from './label-selector.ts';
import { formatRunId, isRunId, resourceNames, RUN_ID_RULE } from './naming.ts';
import type { RunSpec } from './run-spec.ts';
import type { Resources, RunDefaults } from './stack-defaults.ts';

/**
 * The execution input (console `{}`, the nightly schedule, `inference-baseline start`) and the
 * stack's defaults → one `RunSpec`: every name, S3 key and number a run needs, decided once, here,
 * by pure code. Nothing here reads a clock or the environment: `now` and the run-id suffix are
 * passed in.
 */

/** Seconds the workflow keeps polling after the deadline so Kubernetes can report the failure. */
export const POLL_GRACE_SECONDS = 120;

/**
 * What a run needs after its Job's deadline, inside the execution's timeout: the poll grace, the
 * Aggregate (≤ 10 min) and Publish (≤ 2 min) Lambdas, and the cleanup calls.
 */
export const AGGREGATION_ALLOWANCE_SECONDS = 900;

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

/** Builds the RunSpec, or throws `InvalidInputError` listing every problem in the input. */
export function buildRunSpec(args: BuildRunSpecArgs): RunSpec {
  const { defaults } = args;
  const { input, scenario, kind, podSelector, runId, config } = resolveInput(args);
  const model = config.server.model_name ?? defaults.target.modelName;
  const prefix = runPrefix(scenario, model, runId);
  const finalConfig = withStorage(config, kind, defaults.bucket, prefix);
  const parallelism = kind === 'native' ? runnerPods(finalConfig, defaults.job.maxRatePerPod) : 1;
  // Refused here, before a Job exists, rather than by the runner pod after it is scheduled.
  const resolved = resolveScenario(finalConfig);
  const work = [...tooFewRequestsProblems(resolved), ...workLimitProblems(resolved, parallelism)];
  if (work.length > 0) throw new InvalidInputError(work.map((p) => `overrides.${p}`));

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
      metrics: { port: defaults.target.metricsPort, path: defaults.target.metricsPath },
    },
    cluster: {
      name: defaults.clusterName,
      region: defaults.region,
      benchmarkNamespace: defaults.benchmarkNamespace,
      serviceAccountName: defaults.serviceAccountName,
    },
    placement: { zone: null },
    s3: runKeys(defaults.bucket, prefix, seriesPrefix(scenario, model)),
    names: { ...resourceNames(scenario, runId), serviceAccount: defaults.serviceAccountName },
    job: jobPlan(finalConfig, parallelism, defaults),
    bundle: kind === 'native' && defaults.runnerDelivery === 'bundle' && defaults.bundle ? defaults.bundle : null,
    ...(defaults.hub ? { hub: defaults.hub } : {}),
    ...(defaults.runnerCredentials === 'irsa' && defaults.runnerRoleArn ? { irsaRoleArn: defaults.runnerRoleArn } : {}),
    ...(input.compare
      ? {
          compare: {
            ...(input.compare.windowSize !== undefined ? { windowSize: input.compare.windowSize } : {}),
            ...(input.compare.reference !== undefined ? { reference: [input.compare.reference].flat() } : {}),
          },
        }
      : {}),
    historyPrefix: historySeriesPath(scenario, model),
  };
}

/**
 * The input read against the stack: scenario, runner kind, target pods, run id and the merged config
 * (precedence: preset < stack defaults < overrides < input.target). Every problem is collected and
 * thrown at once.
 */
function resolveInput(args: BuildRunSpecArgs) {
  const { defaults } = args;
  const problems: string[] = [];
  const input = parseExecutionInput(args.input ?? {}, problems);
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
  if (!isRunId(runId)) problems.push(`runId: "${runId}" is not a valid run id: ${RUN_ID_RULE}`);

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
    const stackLayer = {
      server: { base_url: defaults.target.baseUrl, model_name: defaults.target.modelName },
      ...(defaults.target.tokenizer ? { tokenizer: { pretrained_model_name_or_path: defaults.target.tokenizer } } : {}),
    };
    const targetLayer = {
      server: { ...(baseUrl ? { base_url: baseUrl } : {}), ...(modelName ? { model_name: modelName } : {}) },
    };
    const merged = layerConfig(base, stackLayer, input.overrides ?? {}, targetLayer);
    try {
      config = parseScenario(merged, 'overrides');
    } catch (err) {
      if (err instanceof InputError) problems.push(...err.problems.map((p) => `overrides.${p}`));
      else throw err;
    }
  }
  if (problems.length > 0 || config === undefined) throw new InvalidInputError(problems);
  return { input, scenario, kind, podSelector, runId, config };
}

/** Every S3 key of a run, under its prefix. */
function runKeys(bucket: string, prefix: string, series: string): RunSpec['s3'] {
  return {
    bucket,
    prefix,
    uri: `s3://${bucket}/${prefix}`,
    outUri: `s3://${bucket}/${series}`,
    runSpecKey: `${prefix}${RUN_SPEC_FILE}`,
    configKey: `${prefix}${CONFIG_FILE}`,
    rawPrefix: `${prefix}${RAW_DIR}/`,
    requestsPrefix: `${prefix}${REQUESTS_DIR}/`,
    summaryKey: `${prefix}${SUMMARY_FILE}`,
    histogramsKey: `${prefix}${HISTOGRAMS_FILE}`,
    reportKey: `${prefix}${REPORT_FILE}`,
  };
}

/** The Job's size and clock: pods, the deadline (load + margin), the poll bound and the scheduling grace. */
function jobPlan(config: ScenarioConfig, parallelism: number, defaults: RunDefaults): RunSpec['job'] {
  const loadSeconds = scenarioSeconds(config);
  const activeDeadlineSeconds = Math.ceil(loadSeconds + defaults.job.deadlineMarginSeconds);
  return {
    parallelism,
    completions: parallelism,
    loadSeconds,
    activeDeadlineSeconds,
    ttlSecondsAfterFinished: defaults.job.ttlSecondsAfterFinished,
    pollIntervalSeconds: defaults.job.pollIntervalSeconds,
    maxPolls: maxPolls(activeDeadlineSeconds, defaults.job.pollIntervalSeconds),
    schedulingGraceSeconds: defaults.job.schedulingGraceSeconds,
    schedulingPolls: Math.max(1, Math.ceil(defaults.job.schedulingGraceSeconds / defaults.job.pollIntervalSeconds)),
    resources: runnerResources(defaults.job.resources, config.load.num_workers ?? 1),
  };
}

function runnerOf(kind: RunnerKind, defaults: RunDefaults): RunSpec['runner'] {
  if (kind === 'inference-perf') return { kind, delivery: 'tool', image: defaults.images.inferencePerf };
  if (defaults.runnerDelivery === 'image') return { kind, delivery: 'image', image: defaults.images.runner ?? '' };
  return { kind, delivery: 'bundle', image: defaults.images.node };
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

/**
 * The runner pod's resources: at least one CPU per worker (`load.num_workers`), requests still equal
 * to limits. A worker is an event loop that must not wait for a core; fewer cores than workers would
 * turn the load generator's own scheduling into latency. Memory stays as configured.
 */
export function runnerResources(base: Resources, workers: number): Resources {
  const cores = (q: string): number => (q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q));
  const cpu = (q: string): string => (Number.isFinite(cores(q)) && cores(q) >= workers ? q : String(workers));
  return { requests: { ...base.requests, cpu: cpu(base.requests.cpu) }, limits: { ...base.limits, cpu: cpu(base.limits.cpu) } };
}

/** GetJob polls the workflow allows: the deadline plus a grace for Kubernetes to report, at the poll interval. */
export function maxPolls(activeDeadlineSeconds: number, pollIntervalSeconds: number): number {
  return Math.ceil((activeDeadlineSeconds + POLL_GRACE_SECONDS) / pollIntervalSeconds) + 1;
}

/** Points the config's storage at the run prefix (inference-perf writes under `raw/`) and forces per-request records. */
function withStorage(config: ScenarioConfig, kind: RunnerKind, bucket: string, prefix: string): ScenarioConfig {
  const out: ScenarioConfig = structuredClone(config);
  const path = kind === 'inference-perf' ? `${prefix}${RAW_DIR}` : prefix.replace(/\/$/, '');
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
