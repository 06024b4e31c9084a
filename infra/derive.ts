import { WORKFLOW_GROUP } from '../runtime/core/manifests/rbac.ts';
import { metricDefinitions } from '../runtime/core/metrics/definitions.ts';
import { CONFIG_FILE, HISTORY_DIR, REQUESTS_DIR, RUN_MANIFEST_FILE, RUN_SPEC_FILE, RUNS_PREFIX } from '../runtime/core/run-layout.ts';
import { inferencePerfImage, parseLabelSelector, type RunDefaultsInput } from '../runtime/core/run-spec/index.ts';
import { publishedMetric, publishedMetrics, type PublishedMetric } from '../runtime/core/summary/published.ts';
import type { StackConfig } from './config.ts';

/**
 * Pure derivations from the stack configuration: names, S3 keys, thresholds, policy ARNs. The
 * constructs only wire what these return, and these are tested without a Stack.
 */

export { RUNS_PREFIX };
/** Object keys the runner (Pod Identity) may write: `runs/*`; the runner may write nowhere else. */
export const RUNS_KEY_PATTERN = `${RUNS_PREFIX}*`;
/** History entries (`history/<scenario>/<model>/<runId>.json`): written by Aggregate only. */
export const HISTORY_KEY_PATTERN = `${HISTORY_DIR}/*`;

/**
 * The raw files of every run that are written with `If-None-Match: *` (the runner's request parts
 * and manifests, run.json, PrepareRun's run-spec.json and config.yml): the bucket policy refuses any
 * other write of them. Not inference-perf's own files under raw/ (the tool sends no conditional
 * header; versioning keeps what a rewrite would replace) and not the derived files.
 */
export const CONDITIONAL_RAW_KEY_PATTERNS = [`${RUNS_PREFIX}*/${REQUESTS_DIR}/*`, `${RUNS_PREFIX}*/${RUN_MANIFEST_FILE}`, `${RUNS_PREFIX}*/${RUN_SPEC_FILE}`, `${RUNS_PREFIX}*/${CONFIG_FILE}`];

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
  refs: { region: string; bucket: string; runnerRoleArn?: string; bundle?: { bucket: string; key: string; sha256: string } },
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
      metricsPort: config.targetMetricsPort,
      metricsPath: config.targetMetricsPath,
    },
    benchmarkNamespace: config.benchmarkNamespace,
    serviceAccountName: config.runnerServiceAccount,
    images: {
      node: config.nodeImage,
      inferencePerf: inferencePerfImage(config.inferencePerfImageTag),
      ...(config.runnerImage ? { runner: config.runnerImage } : {}),
    },
    ...(refs.bundle ? { bundle: refs.bundle } : {}),
    ...(refs.runnerRoleArn ? { runnerRoleArn: refs.runnerRoleArn } : {}),
    ...(config.hfEndpoint || config.hfTokenSecret ? { hub: { ...(config.hfEndpoint ? { endpoint: config.hfEndpoint } : {}), ...(config.hfTokenSecret ? { tokenSecret: config.hfTokenSecret } : {}) } } : {}),
    clusterAccess: config.clusterAccess,
    runnerCredentials: config.runnerCredentials,
    ...(config.oidcIssuer ? { oidcIssuer: config.oidcIssuer } : {}),
    workflowTimeoutSeconds: config.workflowTimeoutMinutes * 60,
    job: {
      deadlineMarginSeconds: config.deadlineMarginSeconds,
      schedulingGraceSeconds: config.schedulingGraceSeconds,
      pollIntervalSeconds: config.pollIntervalSeconds,
    },
  };
}

/**
 * The state machine role's access entry: EKS access policies (edit where it runs Jobs, view where the
 * target runs), or in `rbac` mode none — only the Kubernetes group the Roles of `render --rbac` bind.
 */
export function workflowAccessEntry(config: StackConfig, partition: string): { accessPolicies: Array<{ policyArn: string; accessScope: { type: 'namespace'; namespaces: string[] } }>; kubernetesGroups?: string[] } {
  if (config.workflowKubernetesAccess === 'rbac') return { accessPolicies: [], kubernetesGroups: [WORKFLOW_GROUP] };
  return {
    accessPolicies: [
      {
        policyArn: `arn:${partition}:eks::aws:cluster-access-policy/AmazonEKSEditPolicy`,
        accessScope: { type: 'namespace', namespaces: [config.benchmarkNamespace] },
      },
      {
        policyArn: `arn:${partition}:eks::aws:cluster-access-policy/AmazonEKSViewPolicy`,
        accessScope: { type: 'namespace', namespaces: [config.targetNamespace] },
      },
    ],
  };
}

/** The dashboard's text widget: what each published number means (tools disagree). */
export function metricDefinitionsMarkdown(): string {
  return [
    '## Metric definitions (per request unless pooled; milliseconds)',
    '',
    '| metric | definition |',
    '|---|---|',
    ...Object.entries(metricDefinitions).map(([name, def]) => `| ${name} | ${def} |`),
    '',
    '| published | meaning |',
    '|---|---|',
    ...publishedMetrics.filter((m) => m.group !== 'latency').map((m) => `| ${m.name} | ${m.definition} |`),
    '',
    'Latency metrics are published as `<metric>_p50`, `_p90`, `_p99`. Percentiles come from the merged HDR histogram of the whole run (never averaged across shards). Output tokens are the server usage when present.',
  ].join('\n');
}

/** Dashboard graphs: every published metric appears in exactly one. */
export function dashboardGraphs(): Array<{ title: string; metrics: PublishedMetric[] }> {
  const latency = ['ttft', 'itl', 'tpot', 'ntpot', 'e2e', 'schedule_delay'].map((m) => ({
    title: `${m} (ms)`,
    metrics: publishedMetrics.filter((p) => p.name.startsWith(`${m}_p`)),
  }));
  return [
    ...latency,
    // The client's TTFT p50 beside the server's own: when they part, the path changed, not the server.
    { title: "ttft p50 (ms): the client's and the server's", metrics: ['ttft_p50', 'server_ttft_p50'].map(publishedMetric) },
    { title: 'foreign_requests (other load during the run)', metrics: [publishedMetric('foreign_requests')] },
    // Beside schedule delay: a late night with steal is the host's, not the runner's.
    { title: "cpu_steal (%) on the runner's machine", metrics: [publishedMetric('cpu_steal')] },
    { title: 'requests', metrics: ['requests_sent', 'requests_succeeded', 'requests_failed'].map(publishedMetric) },
    { title: 'error_rate (%) and RunValid', metrics: ['error_rate', 'RunValid'].map(publishedMetric) },
    { title: 'throughput', metrics: ['achieved_rate', 'output_tokens_per_s'].map(publishedMetric) },
    { title: 'change against the baseline window (%)', metrics: publishedMetrics.filter((p) => p.group === 'comparison' && p.unit === 'Percent') },
    { title: 'RegressionCount (key metrics regressed)', metrics: [publishedMetric('RegressionCount')] },
  ];
}

export type AlarmComparison = 'GreaterThanThreshold' | 'LessThanThreshold';
export type MissingData = 'breaching' | 'notBreaching' | 'missing';

export interface RunMetricAlarmSpec {
  id: string;
  metricName: string;
  statistic: 'Maximum' | 'Minimum' | 'SampleCount';
  threshold: number;
  comparison: AlarmComparison;
  periodHours: number;
  missing: MissingData;
  /** The state change that notifies: ALARM (default), or INSUFFICIENT_DATA for a heartbeat (data that stopped). */
  notifyOn?: 'alarm' | 'insufficient-data';
  description: string;
}

/** Alarms on the run metrics (dimensions Model and Scenario): SLA thresholds, an invalid run, a missing night. */
export function runMetricAlarms(config: StackConfig): RunMetricAlarmSpec[] {
  const who = `${config.modelName} / ${config.scenario}`;
  return [
    {
      id: 'TtftP99Sla',
      metricName: publishedMetric('ttft_p99').name,
      statistic: 'Maximum',
      threshold: config.slaTtftP99Ms,
      comparison: 'GreaterThanThreshold',
      periodHours: 24,
      missing: 'notBreaching',
      description: `TTFT p99 of ${who} is above the SLA of ${config.slaTtftP99Ms} ms.`,
    },
    {
      id: 'ItlP99Sla',
      metricName: publishedMetric('itl_p99').name,
      statistic: 'Maximum',
      threshold: config.slaItlP99Ms,
      comparison: 'GreaterThanThreshold',
      periodHours: 24,
      missing: 'notBreaching',
      description: `ITL p99 of ${who} is above the SLA of ${config.slaItlP99Ms} ms.`,
    },
    {
      id: 'InvalidRun',
      metricName: publishedMetric('RunValid').name,
      statistic: 'Minimum',
      threshold: 1,
      comparison: 'LessThanThreshold',
      periodHours: 24,
      missing: 'notBreaching',
      description: `A run of ${who} was invalid (see validity.reasons in its summary.json): it is not a baseline.`,
    },
    {
      id: 'BaselineRegression',
      metricName: publishedMetric('RegressionCount').name,
      statistic: 'Maximum',
      threshold: 0,
      comparison: 'GreaterThanThreshold',
      periodHours: 24,
      missing: 'notBreaching',
      description: `A run of ${who} regressed against its trailing baseline (earlier valid runs of the same workload and target): RegressionCount ≥ 1. The regression notice on this topic names the metrics, their change and uncertainty, and what changed since the previous run (images, node type, server version); the run's report.html shows the trend.`,
    },
    {
      id: 'MissingNightlyRun',
      metricName: publishedMetric('RunValid').name,
      statistic: 'SampleCount',
      threshold: 1,
      comparison: 'LessThanThreshold',
      periodHours: 26,
      // A heartbeat: after a deploy the alarm is INSUFFICIENT_DATA until the first night publishes
      // (no state change, no notice), OK from then on, and INSUFFICIENT_DATA again — which notifies —
      // when 26 hours pass without a run. Missing data as "breaching" would alarm from the deploy on.
      missing: 'missing',
      notifyOn: 'insufficient-data',
      description: `No run of ${who} published a result in the last 26 hours (the nightly run did not happen or did not finish).`,
    },
  ];
}
