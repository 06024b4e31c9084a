import type { RunSpec } from '../run-spec.ts';
import { runLabels, ZONE_LABEL } from './labels.ts';
import { CONFIG_FILE } from './resources.ts';

export const CONFIG_DIR = '/etc/inference-baseline';
export const CONFIG_PATH = `${CONFIG_DIR}/${CONFIG_FILE}`;
const CONTAINER = 'runner';

/**
 * A stock Node 22 image runs this (`node -e`): download the runner bundle by its presigned URL,
 * check its sha256, then run it in-process with the Job's arguments. Node only — the slim image
 * has no curl. Exit 70: download failed; 71: checksum mismatch.
 */
export const BUNDLE_BOOTSTRAP = [
  "const { createHash } = require('node:crypto');",
  "const { writeFileSync } = require('node:fs');",
  "const { pathToFileURL } = require('node:url');",
  '(async () => {',
  '  const url = process.env.RUNNER_BUNDLE_URL;',
  '  const want = process.env.RUNNER_BUNDLE_SHA256;',
  '  let body;',
  '  for (let attempt = 1; !body; attempt++) {',
  '    try {',
  '      const res = await fetch(url);',
  '      if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);',
  '      body = Buffer.from(await res.arrayBuffer());',
  '    } catch (err) {',
  '      if (attempt >= 3) {',
  '        console.error(`runner bundle: download failed (${err.message}); a 403 usually means the presigned URL expired: start the run again`);',
  '        process.exit(70);',
  '      }',
  '      await new Promise((r) => setTimeout(r, 1000 * attempt));',
  '    }',
  '  }',
  "  const got = createHash('sha256').update(body).digest('hex');",
  '  if (got !== want) {',
  '    console.error(`runner bundle: sha256 mismatch: expected ${want}, got ${got}; redeploy the stack`);',
  '    process.exit(71);',
  '  }',
  "  const file = '/tmp/runner.mjs';",
  '  writeFileSync(file, body);',
  '  process.argv = [process.execPath, file, ...process.argv.slice(1)];',
  '  await import(pathToFileURL(file).href);',
  '})().catch((err) => {',
  '  console.error(`runner bootstrap: ${(err && err.stack) || err}`);',
  '  process.exit(1);',
  '});',
].join('\n');

/**
 * The project's CLI `run` arguments (the Indexed Job's completion index picks the shard). `--out`
 * is the parent of the run prefix: the CLI writes under `<out>/<runId>/`.
 */
export function nativeRunArgs(spec: RunSpec): string[] {
  return [
    'run',
    '--config',
    CONFIG_PATH,
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
  ];
}

export interface JobOptions {
  /** Presigned GET URL of the runner bundle (native runner, bundle delivery). */
  bundleUrl?: string;
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
  const env: Array<{ name: string; value: string }> = [
    { name: 'AWS_REGION', value: spec.cluster.region },
    { name: 'AWS_DEFAULT_REGION', value: spec.cluster.region },
    { name: 'INFERENCE_BASELINE_RUN_ID', value: spec.runId },
  ];
  const mounts = [
    { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  const base = {
    name: CONTAINER,
    image: spec.runner.image,
    imagePullPolicy: 'IfNotPresent',
    // A failed runner's last log lines survive in the pod status (the workflow quotes them in its cause).
    terminationMessagePolicy: 'FallbackToLogsOnError',
    resources: structuredClone(spec.job.resources),
    volumeMounts: mounts,
  };
  if (spec.runner.kind === 'inference-perf') {
    return {
      ...base,
      command: ['inference-perf'],
      args: ['--config_file', CONFIG_PATH],
      env: [...env, { name: 'HF_HOME', value: '/tmp/hf' }],
      securityContext: {
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      },
    };
  }
  const security = {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    runAsUser: 1000,
    runAsGroup: 1000,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
  if (spec.runner.delivery === 'image') {
    return { ...base, command: ['node', '/app/runner.mjs'], args: nativeRunArgs(spec), env, securityContext: security };
  }
  if (!spec.bundle) throw new Error('renderJob: the native runner with bundle delivery needs spec.bundle');
  if (!opts.bundleUrl) throw new Error('renderJob: the native runner with bundle delivery needs a bundle URL');
  return {
    ...base,
    command: ['node', '-e', BUNDLE_BOOTSTRAP, '--'],
    args: nativeRunArgs(spec),
    env: [
      ...env,
      { name: 'RUNNER_BUNDLE_URL', value: opts.bundleUrl },
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

