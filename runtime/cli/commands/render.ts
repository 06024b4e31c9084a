import { stringify } from 'yaml';
import { InputError, validate } from '../../core/errors.ts';
import { renderConfigMap, renderJob, renderServiceAccount } from '../../core/manifests/index.ts';
import { renderWorkflowRbac, WORKFLOW_GROUP } from '../../core/manifests/rbac.ts';
import { loadBundleBootstrap } from '../../bootstrap/index.ts';
import { runnerKinds, type RunnerKind } from '../../core/records/run-manifest.ts';
import { buildRunSpec, DNS_LABEL, inferencePerfImage, parseLabelSelector, RunDefaults, STACK_DEFAULTS } from '../../core/run-spec/index.ts';
import { parseScenarioYaml, presetConfig } from '../../core/scenario/index.ts';

export interface RenderCommandOptions {
  /** An inference-perf style config.yml (replaces the preset). */
  config?: string;
  scenario?: string;
  runner?: string;
  /** Target base URL and model (default: the config's server section). */
  target?: string;
  model?: string;
  tokenizer?: string;
  /** Equality selector of the inference pods, for the same-zone podAffinity. */
  podSelector?: string;
  targetNamespace?: string;
  /** Benchmark namespace (default benchmarking). */
  namespace?: string;
  serviceAccount?: string;
  /** Results bucket (default: the config's storage bucket). */
  bucket?: string;
  region?: string;
  runId?: string;
  /** Pin to this zone with a nodeSelector; without it, a required podAffinity to the target pods. */
  zone?: string;
  /** Native runner image built from the repository Dockerfile. */
  image?: string;
  /** Native runner bundle URL and sha256 (instead of --image). */
  bundleUrl?: string;
  bundleSha256?: string;
  inferencePerfTag?: string;
  /** Print the workflow's RBAC (Roles and RoleBindings) instead of a run's objects. */
  rbac?: boolean;
}

export interface RenderCommandDeps {
  readFile(path: string): string;
  now(): number;
  randomSuffix(): string;
}

/**
 * `inference-baseline render [--config FILE] [--scenario NAME] [--runner native|inference-perf] …`:
 * the ServiceAccount, ConfigMap and Job the workflow would create, as YAML for `kubectl apply -f -`.
 */
export function renderCommand(opts: RenderCommandOptions, deps: RenderCommandDeps): string {
  if (opts.rbac) return renderRbac(opts);
  if (opts.config && opts.scenario) {
    throw new InputError('--scenario with --config', [`--config ${opts.config} replaces the preset, so --scenario ${opts.scenario} would be ignored`], 'pass one of them.');
  }
  const problems: string[] = [];
  const runner = (opts.runner ?? 'native') as RunnerKind;
  if (!(runnerKinds as readonly string[]).includes(runner)) problems.push(`--runner: "${opts.runner}" is not one of ${runnerKinds.join(', ')}`);
  const base = opts.config ? parseScenarioYaml(deps.readFile(opts.config), opts.config) : undefined;
  const scenario = opts.scenario ?? 'baseline';
  const reference = (base ?? (opts.config ? undefined : safePreset(scenario, problems))) as
    | { server?: { base_url?: string; model_name?: string }; tokenizer?: { pretrained_model_name_or_path?: string }; storage?: { simple_storage_service?: { bucket_name?: string } } }
    | undefined;
  const selector = parseLabelSelector(opts.podSelector ?? STACK_DEFAULTS.targetPodSelector);
  if ('problems' in selector) problems.push(...selector.problems.map((p) => `--pod-selector: ${p}`));
  const delivery = opts.image ? 'image' : 'bundle';
  if (opts.image && (opts.bundleUrl || opts.bundleSha256)) {
    problems.push('--image with --bundle-url/--bundle-sha256: the Job runs either the image or the bundle; pass one of them');
  }
  if (runner === 'native' && !opts.image && !(opts.bundleUrl && opts.bundleSha256)) {
    problems.push('--runner native: needs --image (built from the repository Dockerfile) or --bundle-url with --bundle-sha256');
  }
  if (problems.length > 0) throw new InputError('render', problems, 'see `inference-baseline render --help`.');

  const d = STACK_DEFAULTS;
  const raw = {
    clusterName: 'kubectl',
    region: opts.region ?? 'us-west-2',
    bucket: opts.bucket ?? reference?.storage?.simple_storage_service?.bucket_name ?? 'inference-baseline-results',
    scenario,
    runner,
    runnerDelivery: delivery,
    target: {
      baseUrl: opts.target ?? reference?.server?.base_url ?? d.targetBaseUrl,
      modelName: opts.model ?? reference?.server?.model_name ?? d.modelName,
      ...((opts.tokenizer ?? reference?.tokenizer?.pretrained_model_name_or_path) ? { tokenizer: opts.tokenizer ?? reference?.tokenizer?.pretrained_model_name_or_path } : {}),
      namespace: opts.targetNamespace ?? d.targetNamespace,
      podSelector: 'labels' in selector ? selector.labels : {},
    },
    benchmarkNamespace: opts.namespace ?? d.benchmarkNamespace,
    serviceAccountName: opts.serviceAccount ?? d.runnerServiceAccount,
    images: {
      node: d.nodeImage,
      inferencePerf: inferencePerfImage(opts.inferencePerfTag ?? d.inferencePerfImageTag),
      ...(opts.image ? { runner: opts.image } : {}),
    },
    ...(opts.bundleUrl && opts.bundleSha256 ? { bundle: { bucket: 'render', key: 'runner.mjs', sha256: opts.bundleSha256 } } : {}),
  };
  const checked = validate(RunDefaults, raw);
  if (!checked.ok) throw new InputError('render', checked.problems.map(flagWords), 'see `inference-baseline render --help`.');
  const defaults = checked.data;
  const spec = buildRunSpec({
    input: { runner, ...(opts.runId ? { runId: opts.runId } : {}), ...(opts.config ? {} : { scenario }) },
    defaults,
    now: deps.now(),
    suffix: deps.randomSuffix(),
    ...(base ? { baseConfig: base } : {}),
  });
  const docs = [
    renderServiceAccount(spec),
    renderConfigMap(spec),
    renderJob(spec, opts.zone ?? null, opts.bundleUrl ? { bundle: { url: opts.bundleUrl, bootstrap: loadBundleBootstrap() } } : {}),
  ];
  const header = [
    `# inference-baseline run ${spec.runId}: kubectl apply -f <this file>`,
    `# Needs namespace ${spec.cluster.benchmarkNamespace}, and S3 write access for service account ${spec.names.serviceAccount}`,
    `# (EKS Pod Identity) under s3://${spec.s3.bucket}/runs/. Results: ${spec.s3.uri}`,
  ].join('\n');
  return `${header}\n${docs.map((d) => `---\n${stringify(d, { lineWidth: 0, aliasDuplicateObjects: false })}`).join('')}`;
}

/**
 * `render --rbac`: the Roles and RoleBindings that give the state machine role — in a stack deployed
 * with `workflowKubernetesAccess: rbac`, an access entry with only the group they bind — exactly the
 * Kubernetes calls the workflow and its reaper make.
 */
function renderRbac(opts: RenderCommandOptions): string {
  const bench = opts.namespace ?? STACK_DEFAULTS.benchmarkNamespace;
  const target = opts.targetNamespace ?? STACK_DEFAULTS.targetNamespace;
  const problems = [
    ...(DNS_LABEL.test(bench) ? [] : [`--namespace: "${bench}" is not a Kubernetes namespace name`]),
    ...(DNS_LABEL.test(target) ? [] : [`--target-namespace: "${target}" is not a Kubernetes namespace name`]),
  ];
  if (problems.length > 0) throw new InputError('render --rbac', problems, 'pass the namespaces the stack was deployed with (benchmarkNamespace, targetNamespace).');
  const header = [
    `# inference-baseline workflow RBAC: kubectl apply -f <this file>`,
    `# For a stack deployed with -c workflowKubernetesAccess=rbac: its EKS access entry puts the state machine role`,
    `# in group ${WORKFLOW_GROUP}, and these Roles grant that group exactly the calls the workflow makes.`,
  ].join('\n');
  return `${header}\n${renderWorkflowRbac(bench, target).map((d) => `---\n${stringify(d, { lineWidth: 0 })}`).join('')}`;
}

function safePreset(name: string, problems: string[]): unknown {
  try {
    return presetConfig(name);
  } catch (err) {
    if (err instanceof InputError) problems.push(...err.problems.map((p) => `--scenario: ${p}`));
    else throw err;
    return undefined;
  }
}

/** RunDefaults paths → the flags that set them, so a problem names what the user typed. */
const flagOf: Array<[RegExp, string]> = [
  [/^region\b/, '--region'],
  [/^bucket\b/, '--bucket'],
  [/^target\.baseUrl\b/, '--target'],
  [/^target\.modelName\b/, '--model'],
  [/^target\.tokenizer\b/, '--tokenizer'],
  [/^target\.namespace\b/, '--target-namespace'],
  [/^benchmarkNamespace\b/, '--namespace'],
  [/^serviceAccountName\b/, '--service-account'],
  [/^images\.runner\b/, '--image'],
  [/^images\.inferencePerf\b/, '--inference-perf-tag'],
  [/^bundle\.sha256\b/, '--bundle-sha256'],
];

function flagWords(problem: string): string {
  for (const [re, flag] of flagOf) if (re.test(problem)) return problem.replace(re, flag);
  return problem;
}
