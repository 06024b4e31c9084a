import type { RunSpec } from '../run-spec/index.ts';
import { runLabels, ZONE_LABEL } from './labels.ts';
import { CONFIG_FILE } from '../run-layout.ts';

export const CONFIG_DIR = '/etc/inference-baseline';
export const CONFIG_PATH = `${CONFIG_DIR}/${CONFIG_FILE}`;
/**
 * The target pods' IPs the workflow found (FindTargetPods), a JSON array the workflow adds to the
 * run's ConfigMap: the runner scrapes each one's metrics, not the Service's one replica at a time.
 */
export const METRICS_TARGETS_KEY = 'metrics-targets.json';
const CONTAINER = 'runner';
/**
 * V8 flags of the runner's process. `--single-threaded-gc`: the collector works on the thread whose
 * heap it is, never on helper threads beside it. A runner has a CPU per worker thread, and a
 * concurrent marker or parallel scavenger on the same CPU preempts the loop that stamps chunks:
 * at 100 req/s on one core its schedule delay p99 fell from 5.6–6.3 ms (3.1–3.8× the floor
 * client's) to 3.4–4.6 ms (1.7–2.1×), BENCHMARKS.md §1 "The collector's threads".
 */
export const RUNNER_NODE_FLAGS = ['--single-threaded-gc'];

/**
 * The project's CLI `run` arguments (the Indexed Job's completion index picks the shard). `--out`
 * is the parent of the run prefix: the CLI writes under `<out>/<runId>/`. `--name` records the
 * RunSpec's scenario name; `--no-aggregate` leaves summary.json to the workflow's Aggregate step
 * (one writer per S3 key).
 */
export function nativeRunArgs(spec: RunSpec): string[] {
  return [
    'run',
    '--config',
    CONFIG_PATH,
    '--name',
    spec.scenario,
    '--target',
    spec.target.baseUrl,
    '--model',
    spec.target.modelName,
    '--run-id',
    spec.runId,
    '--out',
    spec.s3.outUri,
    '--shard',
    `$(JOB_COMPLETION_INDEX)/${spec.job.parallelism}`,
    // Explicit, so the runner does not fit them to the node's CPUs: the pod has a CPU per worker.
    '--workers',
    String(spec.config.load.num_workers ?? 1),
    ...(spec.target.metrics ? ['--metrics-targets', `${CONFIG_DIR}/${METRICS_TARGETS_KEY}`, '--metrics-port', String(spec.target.metrics.port), '--metrics-path', spec.target.metrics.path] : []),
    '--no-aggregate',
  ];
}

export interface JobOptions {
  /** The native runner's bundle delivery: its presigned GET URL and the bootstrap program that fetches it (runtime/bootstrap). */
  bundle?: { url: string; bootstrap: string };
}

/**
 * Where the Job's pods go. A known zone pins them with a nodeSelector; an unknown one (Fargate,
 * no EC2 instance behind the pod IP) asks for the target pods' zone with a required podAffinity —
 * with `namespaces`, so the affinity looks where the inference pods actually run.
 */
export function podPlacement(spec: RunSpec, zone: string | null): Record<string, unknown> {
  if (zone !== null && zone !== 'unknown') return { nodeSelector: { [ZONE_LABEL]: zone } };
  return {
    affinity: {
      podAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          {
            labelSelector: { matchLabels: spec.target.podSelector },
            namespaces: [spec.target.namespace],
            topologyKey: ZONE_LABEL,
          },
        ],
      },
    },
  };
}

function container(spec: RunSpec, opts: JobOptions): Record<string, unknown> {
  const env: Array<{ name: string; value?: string; valueFrom?: unknown }> = [
    { name: 'AWS_REGION', value: spec.cluster.region },
    { name: 'AWS_DEFAULT_REGION', value: spec.cluster.region },
    { name: 'INFERENCE_BASELINE_RUN_ID', value: spec.runId },
    // Both runners fetch a tokenizer named by a model id as huggingface_hub does: a mirror, a token.
    ...(spec.hub?.endpoint ? [{ name: 'HF_ENDPOINT', value: spec.hub.endpoint }] : []),
    // Optional: a missing Secret leaves the pod without a token (a gated model is then refused by
    // the runner, naming HF_TOKEN), rather than a pod that never starts.
    ...(spec.hub?.tokenSecret ? [{ name: 'HF_TOKEN', valueFrom: { secretKeyRef: { name: spec.hub.tokenSecret, key: 'token', optional: true } } }] : []),
  ];
  const mounts = [
    { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  const base = {
    name: CONTAINER,
    image: spec.runner.image,
    // An image pinned by digest cannot change: the node's copy will do. A tag can move: pull it.
    imagePullPolicy: /@sha256:[0-9a-f]{64}$/.test(spec.runner.image) ? 'IfNotPresent' : 'Always',
    // A failed runner's last log lines survive in the pod status (the workflow quotes them in its cause).
    terminationMessagePolicy: 'FallbackToLogsOnError',
    resources: structuredClone(spec.job.resources),
    volumeMounts: mounts,
  };
  // Both runners pass Pod Security "restricted": not root, no privilege escalation, no capabilities,
  // the runtime's default seccomp profile.
  const restricted = {
    allowPrivilegeEscalation: false,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
  if (spec.runner.kind === 'inference-perf') {
    // Its image runs as root from /workspace; as an unprivileged user it works in /tmp (the emptyDir).
    return {
      ...base,
      command: ['inference-perf'],
      args: ['--config_file', CONFIG_PATH],
      workingDir: '/tmp',
      env: [...env, { name: 'HF_HOME', value: '/tmp/hf' }, { name: 'HOME', value: '/tmp' }, { name: 'PYTHONDONTWRITEBYTECODE', value: '1' }],
      securityContext: { ...restricted, runAsUser: 65532, runAsGroup: 65532 },
    };
  }
  const security = { ...restricted, readOnlyRootFilesystem: true, runAsUser: 1000, runAsGroup: 1000 };
  if (spec.runner.delivery === 'image') {
    return { ...base, command: ['node', ...RUNNER_NODE_FLAGS, '/app/runner.mjs'], args: nativeRunArgs(spec), env, securityContext: security };
  }
  if (!spec.bundle) throw new Error('renderJob: the native runner with bundle delivery needs spec.bundle');
  if (!opts.bundle) throw new Error('renderJob: the native runner with bundle delivery needs the bundle URL and bootstrap');
  return {
    ...base,
    command: ['node', ...RUNNER_NODE_FLAGS, '-e', opts.bundle.bootstrap, '--'],
    args: nativeRunArgs(spec),
    env: [
      ...env,
      { name: 'RUNNER_BUNDLE_URL', value: opts.bundle.url },
      { name: 'RUNNER_BUNDLE_SHA256', value: spec.bundle.sha256 },
    ],
    securityContext: security,
  };
}

/**
 * The Job without its placement, in the pieces the workflow reassembles once the zone is known
 * (`spec.template.spec` = `podSpec` shallow-merged with `podPlacement(...)`).
 */
export function jobParts(spec: RunSpec, opts: JobOptions = {}) {
  const labels = runLabels(spec);
  return {
    metadata: { name: spec.names.job, namespace: spec.cluster.benchmarkNamespace, labels },
    spec: {
      completionMode: 'Indexed',
      completions: spec.job.completions,
      parallelism: spec.job.parallelism,
      backoffLimit: 0,
      activeDeadlineSeconds: spec.job.activeDeadlineSeconds,
      ttlSecondsAfterFinished: spec.job.ttlSecondsAfterFinished,
    },
    template: {
      metadata: {
        labels,
        // Keep Karpenter from consolidating the node away mid-measurement.
        annotations: { 'karpenter.sh/do-not-disrupt': 'true' },
      },
      podSpec: {
        restartPolicy: 'Never',
        serviceAccountName: spec.names.serviceAccount,
        enableServiceLinks: false,
        terminationGracePeriodSeconds: 30,
        containers: [container(spec, opts)],
        volumes: [
          { name: 'config', configMap: { name: spec.names.configMap } },
          { name: 'tmp', emptyDir: {} },
        ],
      },
    },
  };
}
export type JobParts = ReturnType<typeof jobParts>;

/** The whole Job: `zone` = the target pods' availability zone, or null / "unknown" for podAffinity. */
export function renderJob(spec: RunSpec, zone: string | null, opts: JobOptions = {}) {
  const parts = jobParts(spec, opts);
  return assembleJob(parts, podPlacement(spec, zone));
}

/** The same shallow merges the workflow does with States.JsonMerge. */
export function assembleJob(parts: JobParts, placement: Record<string, unknown>) {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: parts.metadata,
    spec: { ...parts.spec, template: { metadata: parts.template.metadata, spec: { ...parts.template.podSpec, ...placement } } },
  };
}

