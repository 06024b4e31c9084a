import type { RunDefaultsInput } from '../runtime/core/run-spec/index.ts';
import { parseLabelSelector } from '../runtime/core/run-spec/index.ts';
import type { StackConfig } from './config.ts';

/**
 * Pure derivations from the stack configuration: names, S3 keys, thresholds, policy ARNs. The
 * constructs only wire what these return (STYLE.md 5), and these are tested without a Stack.
 */

/** Everything a run writes lives under this prefix; the runner may write nowhere else. */
export const RUNS_PREFIX = 'runs/';
/** Object keys the runner (Pod Identity) may write: `runs/*`. */
export const RUNS_KEY_PATTERN = `${RUNS_PREFIX}*`;

export function inferencePerfImage(tag: string): string {
  return `quay.io/inference-perf/inference-perf:${tag}`;
}

/** EventBridge Scheduler expression for a six-field cron. */
export function scheduleExpression(cron: string): string {
  return `cron(${cron.trim().split(/\s+/).join(' ')})`;
}

export function podSelectorLabels(config: StackConfig): Record<string, string> {
  const sel = parseLabelSelector(config.targetPodSelector);
  if ('problems' in sel) throw new Error(`targetPodSelector: ${sel.problems.join('; ')}`);
  return sel.labels;
}

/** The RunDefaults PrepareRun receives (bucket and bundle are CDK tokens at synth time). */
export function runDefaults(
  config: StackConfig,
  refs: { region: string; bucket: string; bundle?: { bucket: string; key: string; sha256: string } },
): RunDefaultsInput {
  return {
    clusterName: config.clusterName,
    region: refs.region,
    bucket: refs.bucket,
    scenario: config.scenario,
    runner: config.runner,
    runnerDelivery: config.runnerImageMode,
    target: {
      baseUrl: config.targetBaseUrl,
      modelName: config.modelName,
      tokenizer: config.tokenizer,
      namespace: config.targetNamespace,
      podSelector: podSelectorLabels(config),
    },
    benchmarkNamespace: config.benchmarkNamespace,
    serviceAccountName: config.runnerServiceAccount,
    images: {
      node: config.nodeImage,
      inferencePerf: inferencePerfImage(config.inferencePerfImageTag),
      ...(config.runnerImage ? { runner: config.runnerImage } : {}),
    },
    ...(refs.bundle ? { bundle: refs.bundle } : {}),
    job: {
      deadlineMarginSeconds: config.deadlineMarginSeconds,
      pollIntervalSeconds: config.pollIntervalSeconds,
    },
  };
}

/** EKS access policies for the state machine role: edit where it runs Jobs, view where the target runs. */
export function accessPolicies(config: StackConfig, partition: string) {
  return [
    {
      policyArn: `arn:${partition}:eks::aws:cluster-access-policy/AmazonEKSEditPolicy`,
      accessScope: { type: 'namespace', namespaces: [config.benchmarkNamespace] },
    },
    {
      policyArn: `arn:${partition}:eks::aws:cluster-access-policy/AmazonEKSViewPolicy`,
      accessScope: { type: 'namespace', namespaces: [config.targetNamespace] },
    },
  ];
}

/** Latency metrics on the dashboard, each published as `<name>_p50|_p90|_p99` in Milliseconds. */
export const latencyMetrics = ['ttft', 'itl', 'tpot', 'e2e', 'schedule_delay'] as const;
export const percentiles = ['p50', 'p90', 'p99'] as const;

export function latencyMetricName(metric: (typeof latencyMetrics)[number], pct: (typeof percentiles)[number]): string {
  return `${metric}_${pct}`;
}

/** The dashboard's text widget: what each published number means (tools disagree; DESIGN.md §3). */
export const metricDefinitionsMarkdown = [
  '## Metric definitions (per request unless pooled; milliseconds)',
  '',
  '| metric | definition |',
  '|---|---|',
  '| ttft | first content-bearing event received − request sent |',
  '| itl | gaps between consecutive content-bearing events, pooled over all requests |',
  '| tpot | (last content event − first content event) / (output tokens − 1) |',
  '| ntpot | e2e / output tokens |',
  '| e2e | last byte received − request sent |',
  '| schedule_delay | request sent − request scheduled (must stay < 10 ms for a valid baseline) |',
  '| error_rate | failed requests / sent requests |',
  '| RunValid | 1 when the run met every validity rule, else 0 (then it is not a baseline) |',
  '',
  'Percentiles come from the merged HDR histogram of the whole run (never averaged across shards). Output tokens are the server usage when present.',
].join('\n');

export type AlarmComparison = 'GreaterThanThreshold' | 'LessThanThreshold';
export type MissingData = 'breaching' | 'notBreaching';

export interface RunMetricAlarmSpec {
  id: string;
  metricName: string;
  statistic: 'Maximum' | 'Minimum' | 'SampleCount';
  threshold: number;
  comparison: AlarmComparison;
  periodHours: number;
  missing: MissingData;
  description: string;
}

/** Alarms on the run metrics (dimensions Model and Scenario): SLA thresholds, an invalid run, a missing night. */
export function runMetricAlarms(config: StackConfig): RunMetricAlarmSpec[] {
  const who = `${config.modelName} / ${config.scenario}`;
  return [
    {
      id: 'TtftP99Sla',
      metricName: 'ttft_p99',
      statistic: 'Maximum',
      threshold: config.slaTtftP99Ms,
      comparison: 'GreaterThanThreshold',
      periodHours: 24,
      missing: 'notBreaching',
      description: `TTFT p99 of ${who} is above the SLA of ${config.slaTtftP99Ms} ms.`,
    },
    {
      id: 'ItlP99Sla',
      metricName: 'itl_p99',
      statistic: 'Maximum',
      threshold: config.slaItlP99Ms,
      comparison: 'GreaterThanThreshold',
      periodHours: 24,
      missing: 'notBreaching',
      description: `ITL p99 of ${who} is above the SLA of ${config.slaItlP99Ms} ms.`,
    },
    {
      id: 'InvalidRun',
      metricName: 'RunValid',
      statistic: 'Minimum',
      threshold: 1,
      comparison: 'LessThanThreshold',
      periodHours: 24,
      missing: 'notBreaching',
      description: `A run of ${who} was invalid (see validity.reasons in its summary.json): it is not a baseline.`,
    },
    {
      id: 'MissingNightlyRun',
      metricName: 'RunValid',
      statistic: 'SampleCount',
      threshold: 1,
      comparison: 'LessThanThreshold',
      periodHours: 26,
      missing: 'breaching',
      description: `No run of ${who} published a result in the last 26 hours (the nightly run did not happen or did not finish).`,
    },
  ];
}
