import { z } from 'zod';
import { InputError, issueProblems } from '../runtime/core/errors.ts';
import { runnerKinds } from '../runtime/core/records/run-manifest.ts';
import { clusterAccessModes, DNS_LABEL, kubernetesAccessModes, runnerCredentialModes, parseLabelSelector, runnerDeliveries, STACK_DEFAULTS as D } from '../runtime/core/run-spec/index.ts';
import { AGGREGATION_ALLOWANCE_SECONDS, scenarioSeconds } from '../runtime/core/run-spec/index.ts';
import { parseScenario, presetConfig, presetNames } from '../runtime/core/scenario/index.ts';
import { ServerBaseUrl } from '../runtime/core/scenario/schema.ts';
import { METRIC_NAMESPACE, METRIC_NAMESPACE_RULE } from '../runtime/core/summary/published.ts';

/**
 * The stack's configuration: `cdk.json` context or `-c key=value`, flat keys so every one can be
 * set from the command line. Only `clusterName` is required; the rest default to the seed (AI on
 * EKS "Scenario 1: Baseline performance"), from the one home of those values (STACK_DEFAULTS).
 * Every problem is reported at once, by key.
 */

/** A list of AWS ids: `-c key=a,b` gives a comma-separated string, cdk.json an array. */
function idList(what: string, pattern: RegExp) {
  return z
    .preprocess((v) => (typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter(Boolean) : v), z.array(z.string().regex(pattern, `must be ${what} ids (comma-separated)`)).min(1, `needs at least one ${what} id`))
    .describe(what);
}

/** `-c key=value` gives strings; cdk.json gives JSON types. Both are accepted. */
const bool = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());
const num = z.preprocess((v) => (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : v), z.number());

export const StackConfig = z.strictObject({
  /** An existing EKS cluster (authentication mode API or API_AND_CONFIG_MAP; a public endpoint, or clusterAccess vpc). */
  clusterName: z
    .string({ error: (i) => (i.input === undefined ? 'required: the name of an existing EKS cluster (cdk deploy -c clusterName=NAME)' : 'must be a string') })
    .regex(/^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/, 'must be an EKS cluster name (letters, digits, - and _, up to 100)'),
  /** The server's base URL, by the one rule every input follows (runtime/core/scenario/schema.ts baseUrlProblem). */
  targetBaseUrl: ServerBaseUrl.default(D.targetBaseUrl),
  modelName: z.string().min(1).default(D.modelName),
  tokenizer: z.string().min(1).default(D.tokenizer),
  /** A Hugging Face hub mirror the runner pod fetches tokenizers from (HF_ENDPOINT), for a cluster without internet. */
  hfEndpoint: z.url({ protocol: /^https?$/, error: 'must be the http(s) URL of a Hugging Face hub or mirror' }).optional(),
  /** A Secret in the benchmark namespace whose key `token` is the hub token for gated models (HF_TOKEN). */
  hfTokenSecret: z.string().regex(DNS_LABEL, 'must be a Kubernetes Secret name').optional(),
  /** Equality label selector of the inference pods (inference-charts label them by component). */
  targetPodSelector: z.string().default(D.targetPodSelector),
  targetNamespace: z.string().regex(DNS_LABEL, 'must be a Kubernetes namespace name').default(D.targetNamespace),
  /** Each inference pod's Prometheus endpoint, scraped by the runner on every replica (vLLM: the API port, /metrics). */
  targetMetricsPort: num.pipe(z.number().int().min(1).max(65535)).default(D.targetMetricsPort),
  targetMetricsPath: z.string().regex(/^\/[\w\-./]*$/, 'must be a URL path starting with /').default(D.targetMetricsPath),
  benchmarkNamespace: z.string().regex(DNS_LABEL, 'must be a Kubernetes namespace name').default(D.benchmarkNamespace),
  runnerServiceAccount: z.string().regex(DNS_LABEL, 'must be a Kubernetes object name').default(D.runnerServiceAccount),
  scenario: z.string().default(D.scenario),
  runner: z.enum(runnerKinds).default(D.runner),
  /** `bundle`: stock Node image + S3 bundle (no Docker); `image`: an image built from the Dockerfile (`runnerImage`). */
  runnerImageMode: z.enum(runnerDeliveries).default(D.runnerImageMode),
  nodeImage: z.string().min(1).default(D.nodeImage),
  runnerImage: z.string().min(1).optional(),
  /** v0.6.1: the newest release without the streaming-measurement bugs (reference/inference-perf.md). */
  inferencePerfImageTag: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'must be an image tag').default(D.inferencePerfImageTag),
  /** EventBridge Scheduler cron, six fields: minutes hours day-of-month month day-of-week year. */
  scheduleCron: z.string().default(D.scheduleCron),
  scheduleTimeZone: z.string().default(D.scheduleTimeZone),
  scheduleEnabled: bool.default(D.scheduleEnabled),
  metricNamespace: z.string().regex(METRIC_NAMESPACE, `must be a CloudWatch namespace: ${METRIC_NAMESPACE_RULE}`).default(D.metricNamespace),
  /** SLA thresholds (project defaults; the seed has none: set your own). */
  slaTtftP99Ms: num.pipe(z.number().positive()).default(D.slaTtftP99Ms),
  slaItlP99Ms: num.pipe(z.number().positive()).default(D.slaItlP99Ms),
  alarmEmail: z.email().optional(),
  pollIntervalSeconds: num.pipe(z.number().int().min(5).max(600)).default(D.pollIntervalSeconds),
  deadlineMarginSeconds: num.pipe(z.number().int().positive()).default(D.deadlineMarginSeconds),
  schedulingGraceSeconds: num.pipe(z.number().int().positive()).default(D.schedulingGraceSeconds),
  /** Whole-execution timeout: longer than the longest scenario you run plus its margin. */
  workflowTimeoutMinutes: num.pipe(z.number().int().min(10).max(1440)).default(D.workflowTimeoutMinutes),
  /** `access-policies`: EKS access policies on the two namespaces; `rbac`: a Kubernetes group bound to Roles you apply (`render --rbac`). */
  workflowKubernetesAccess: z.enum(kubernetesAccessModes).default(D.workflowKubernetesAccess),
  /** `public`: Step Functions eks:call (a public endpoint open to all); `vpc`: a Lambda in the cluster's VPC (private or CIDR-limited endpoints). */
  clusterAccess: z.enum(clusterAccessModes).default(D.clusterAccess),
  /** With `clusterAccess: vpc`: the subnets (comma-separated ids) the Kubernetes-calling Lambda is attached to — ones that reach the endpoint's private addresses. */
  vpcSubnetIds: idList('subnet', /^subnet-[0-9a-f]+$/).optional(),
  /** With `clusterAccess: vpc`: its security groups (comma-separated ids); the cluster's security group must allow 443 from them. */
  vpcSecurityGroupIds: idList('security group', /^sg-[0-9a-f]+$/).optional(),
  /** `pod-identity`: EKS Pod Identity (EC2 nodes); `irsa`: IAM roles for service accounts (Fargate, or no Pod Identity Agent). */
  runnerCredentials: z.enum(runnerCredentialModes).default(D.runnerCredentials),
  /** With `runnerCredentials: irsa`: the cluster's OIDC issuer (aws eks describe-cluster --query cluster.identity.oidc.issuer), whose IAM OIDC provider exists. */
  oidcIssuer: z
    .string()
    .transform((v) => v.replace(/^https:\/\//, ''))
    .pipe(z.string().regex(/^oidc\.eks\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\/id\/[0-9A-Z]+$/, 'must be the cluster\'s OIDC issuer, like https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE'))
    .optional(),
});
export type StackConfig = z.infer<typeof StackConfig>;
export type StackConfigInput = z.input<typeof StackConfig>;

export const stackConfigKeys = Object.keys(StackConfig.shape) as Array<keyof StackConfig>;

/** Context keys the CDK itself uses without `:` or `@` (everything else without them is ours). */
const CDK_OWN_KEYS = new Set(['acknowledged-issue-numbers']);

/**
 * The context entries that are ours: every key but CDK's own (those carry `@` or `:`). A key that
 * is not a setting, in any spelling (`alarm_email`, `ScheduleEnabled`), is reported with the
 * setting it most likely meant — a typo must not silently leave a default in place.
 */
export function configFromContext(context: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(context).filter(([k]) => !k.startsWith('@') && !k.includes(':') && !CDK_OWN_KEYS.has(k)));
}

/** The setting a misspelt key most likely meant (same letters, other case or separators). */
export function suggestKey(key: string): string | undefined {
  const norm = (k: string): string => k.toLowerCase().replace(/[^a-z0-9]/g, '');
  return stackConfigKeys.find((k) => norm(k) === norm(key));
}

/** Validates the configuration; throws one InputError naming every problem by key. */
export function parseStackConfig(raw: Record<string, unknown>): StackConfig {
  const problems: string[] = [];
  const { stackName: _stackName, ...settings } = raw;
  const result = StackConfig.safeParse(settings, { reportInput: true });
  if (!result.success) {
    for (const issue of result.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) {
          const meant = suggestKey(key);
          problems.push(`${key}: not a setting${meant ? ` (did you mean ${meant}?)` : ''}; settings: ${stackConfigKeys.join(', ')}`);
        }
      } else problems.push(...issueProblems([issue]));
    }
  }
  const c = (result.success ? result.data : settings) as Partial<StackConfig>;
  if (typeof c.scheduleCron === 'string') problems.push(...cronProblems(c.scheduleCron).map((p) => `scheduleCron: ${p}`));
  if (typeof c.scheduleTimeZone === 'string' && !isTimeZone(c.scheduleTimeZone)) {
    problems.push(`scheduleTimeZone: "${c.scheduleTimeZone}" is not an IANA time zone (e.g. UTC, Asia/Seoul)`);
  }
  if (typeof c.targetPodSelector === 'string') {
    const sel = parseLabelSelector(c.targetPodSelector);
    if ('problems' in sel) problems.push(...sel.problems.map((p) => `targetPodSelector: ${p}`));
  }
  if (typeof c.scenario === 'string' && !(presetNames as string[]).includes(c.scenario)) {
    problems.push(`scenario: unknown scenario "${c.scenario}"; known: ${presetNames.join(', ')}`);
  } else if (result.success) {
    // The Job's deadline (the scenario's load + the margin) must end well inside the execution's timeout.
    const load = scenarioSeconds(parseScenario(presetConfig(result.data.scenario), `scenario ${result.data.scenario}`));
    const deadline = load + result.data.deadlineMarginSeconds;
    const timeout = result.data.workflowTimeoutMinutes * 60;
    if (deadline + AGGREGATION_ALLOWANCE_SECONDS > timeout) {
      problems.push(
        `workflowTimeoutMinutes: ${result.data.workflowTimeoutMinutes} min is shorter than the Job's deadline (${load} s of load + deadlineMarginSeconds ${result.data.deadlineMarginSeconds} s) plus ${AGGREGATION_ALLOWANCE_SECONDS} s for aggregation; raise workflowTimeoutMinutes to at least ${Math.ceil((deadline + AGGREGATION_ALLOWANCE_SECONDS) / 60)} or lower deadlineMarginSeconds`,
      );
    }
  }
  if (c.clusterAccess === 'vpc') {
    const missing = (['vpcSubnetIds', 'vpcSecurityGroupIds'] as const).filter((k) => c[k] === undefined);
    if (missing.length > 0) {
      problems.push(
        `${missing.join(', ')}: required when clusterAccess is "vpc" — the Lambda that calls the Kubernetes API runs in the cluster's VPC (cdk deploy -c clusterAccess=vpc -c vpcSubnetIds=subnet-…,subnet-… -c vpcSecurityGroupIds=sg-…; subnets that reach the endpoint's private addresses, a group the cluster's security group admits on 443)`,
      );
    }
  } else if (c.vpcSubnetIds !== undefined || c.vpcSecurityGroupIds !== undefined) {
    problems.push('vpcSubnetIds, vpcSecurityGroupIds: only used with clusterAccess "vpc"; add -c clusterAccess=vpc or remove them');
  }
  if (c.runnerCredentials === 'irsa' && c.oidcIssuer === undefined) {
    problems.push("oidcIssuer: required when runnerCredentials is \"irsa\" — the runner role trusts the cluster's OIDC provider (aws eks describe-cluster --name NAME --query cluster.identity.oidc.issuer; create the provider once: eksctl utils associate-iam-oidc-provider --cluster NAME --approve)");
  } else if (c.runnerCredentials !== 'irsa' && c.oidcIssuer !== undefined) {
    problems.push('oidcIssuer: only used with runnerCredentials "irsa"; add -c runnerCredentials=irsa or remove it');
  }
  if ((c.runnerImageMode ?? 'bundle') === 'image' && !c.runnerImage) {
    problems.push('runnerImage: required when runnerImageMode is "image" (an image built from the repository Dockerfile)');
  }
  if (problems.length > 0 || !result.success) {
    throw new InputError('stack configuration (cdk.json context / -c key=value)', problems, 'fix the keys named above; only clusterName is required.');
  }
  return result.data;
}

const CRON_FIELDS = [
  { name: 'minutes', min: 0, max: 59, chars: /^[0-9,\-*/]+$/ },
  { name: 'hours', min: 0, max: 23, chars: /^[0-9,\-*/]+$/ },
  { name: 'day-of-month', min: 1, max: 31, chars: /^([0-9,\-*/?W]+|L)$/ },
  { name: 'month', min: 1, max: 12, chars: /^([0-9,\-*/]+|[A-Z]{3}(-[A-Z]{3})?(,[A-Z]{3})*)$/ },
  { name: 'day-of-week', min: 1, max: 7, chars: /^([0-9,\-*/?L#]+|[A-Z]{3}(-[A-Z]{3})?(,[A-Z]{3})*)$/ },
  { name: 'year', min: 1970, max: 2199, chars: /^[0-9,\-*/]+$/ },
] as const;

/** EventBridge Scheduler cron syntax: six fields, one of day-of-month / day-of-week is `?`. */
export function cronProblems(cron: string): string[] {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 6) {
    return [`"${cron}" has ${fields.length} fields; EventBridge cron has 6: minutes hours day-of-month month day-of-week year (e.g. "0 2 * * ? *")`];
  }
  const problems: string[] = [];
  fields.forEach((field, i) => {
    const spec = CRON_FIELDS[i]!;
    if (!spec.chars.test(field)) {
      problems.push(`${spec.name} "${field}" is not valid`);
      return;
    }
    for (const n of field.match(/\d+/g) ?? []) {
      const v = Number(n);
      const isStep = new RegExp(`/${n}(?!\\d)`).test(field);
      const isNth = new RegExp(`#${n}(?!\\d)`).test(field);
      if (!isStep && !isNth && (v < spec.min || v > spec.max)) problems.push(`${spec.name} ${v} is outside ${spec.min}–${spec.max}`);
    }
  });
  const dom = fields[2];
  const dow = fields[4];
  if ((dom === '?') === (dow === '?')) problems.push('exactly one of day-of-month and day-of-week must be "?"');
  return problems;
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
