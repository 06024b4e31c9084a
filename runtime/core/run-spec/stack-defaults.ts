import { z } from 'zod';
import { runnerKinds } from '../records/run-manifest.ts';
import { SEED_MODEL } from '../scenario/presets.ts';
import { ServerBaseUrl } from '../scenario/schema.ts';
import { defaultNamespace } from '../summary/published.ts';

/**
 * The stack's defaults — the one home of these facts. The CDK stack's configuration (`cdk.json`
 * context, which lists the same values for people to read; a test keeps the two equal), `render`,
 * and the local workflow all start from them. They describe the seed (AI on EKS "Scenario 1").
 */
export const STACK_DEFAULTS = {
  targetBaseUrl: SEED_MODEL.baseUrl,
  modelName: SEED_MODEL.servedName,
  tokenizer: SEED_MODEL.tokenizer,
  targetPodSelector: 'app.kubernetes.io/component=qwen3-vllm',
  targetNamespace: 'default',
  /** Where each inference pod serves its Prometheus metrics (vLLM: the API port's /metrics): the runner scrapes every replica. */
  targetMetricsPort: 8000,
  targetMetricsPath: '/metrics',
  benchmarkNamespace: 'benchmarking',
  runnerServiceAccount: 'inference-baseline-runner',
  scenario: 'baseline',
  runner: 'native',
  runnerImageMode: 'bundle',
  /**
   * The stock Node 22 image the bundle runs in, pinned by digest (Docker's official node:22-slim
   * index, mirrored on ECR Public, as of October 2026): a tag moves under a nightly baseline. To
   * move it: docker buildx imagetools inspect public.ecr.aws/docker/library/node:22-slim.
   */
  nodeImage: 'public.ecr.aws/docker/library/node:22-slim@sha256:c3de60bf2f9dd0ac6370e6117950ff62d6e339527e7472301c9c78a017978392',
  /** v0.6.1: the newest release without the streaming-measurement bugs. */
  inferencePerfImageTag: 'v0.6.1',
  scheduleCron: '0 2 * * ? *',
  scheduleTimeZone: 'UTC',
  scheduleEnabled: true,
  metricNamespace: defaultNamespace,
  slaTtftP99Ms: 1000,
  slaItlP99Ms: 100,
  pollIntervalSeconds: 30,
  deadlineMarginSeconds: 600,
  /**
   * How long a runner pod may wait to be scheduled before the workflow fails the run with the
   * scheduler's reason, instead of waiting out the Job's deadline: long enough for Karpenter or the
   * cluster autoscaler to add a node (typically 1–3 min).
   */
  schedulingGraceSeconds: 300,
  workflowTimeoutMinutes: 360,
  /**
   * How the workflow role gets its rights in the cluster: EKS access policies scoped to the two
   * namespaces (nothing to apply by hand), or `rbac` — an access entry that only names a Kubernetes
   * group, bound to Roles granting exactly the calls the workflow makes (`inference-baseline render
   * --rbac | kubectl apply -f -`).
   */
  workflowKubernetesAccess: 'access-policies',
  /**
   * How the workflow reaches the Kubernetes API: `public` — Step Functions' `eks:call` (public
   * endpoints open to all addresses only); `vpc` — a Lambda in the cluster's VPC making the same
   * calls over HTTPS with an EKS token (private and CIDR-limited endpoints).
   */
  clusterAccess: 'public',
  /** How the runner pod gets its S3 credentials: EKS Pod Identity, or IAM roles for service accounts (Fargate). */
  runnerCredentials: 'pod-identity',
} as const;

export const kubernetesAccessModes = ['access-policies', 'rbac'] as const;
export type KubernetesAccessMode = (typeof kubernetesAccessModes)[number];
export const clusterAccessModes = ['public', 'vpc'] as const;
export type ClusterAccessMode = (typeof clusterAccessModes)[number];
export const runnerCredentialModes = ['pod-identity', 'irsa'] as const;
export type RunnerCredentialMode = (typeof runnerCredentialModes)[number];
/** The ServiceAccount annotation IRSA's webhook reads (the role the pod's web identity assumes). */
export const IRSA_ROLE_ANNOTATION = 'eks.amazonaws.com/role-arn';

/** Digests of the inference-perf releases the stack knows (a tag on quay.io can be pushed again). */
export const INFERENCE_PERF_DIGESTS: Record<string, string> = {
  'v0.6.1': 'sha256:e29328cc223ebae58d9022d60ad651cc3c4cbd534885a78b28f54086aa4b9c9e',
};

/** The inference-perf image of a release: pinned by digest when the stack knows it, by tag otherwise. */
export function inferencePerfImage(tag: string): string {
  const digest = INFERENCE_PERF_DIGESTS[tag];
  return `quay.io/inference-perf/inference-perf:${tag}${digest ? `@${digest}` : ''}`;
}

/** How the native runner reaches the pod: an S3 bundle fetched by a stock Node image, or an image built from the Dockerfile. */
export const runnerDeliveries = ['bundle', 'image'] as const;
export type RunnerDelivery = (typeof runnerDeliveries)[number];

/** The CloudFormation stack's name unless `-c stackName=…` says otherwise; `start --stack` looks for it. */
export const DEFAULT_STACK_NAME = 'InferenceBaseline';

/** The EKS add-on that hands pods their Pod Identity credentials (PrepareRun checks it is installed). */
export const POD_IDENTITY_AGENT_ADDON = 'eks-pod-identity-agent';

/** The tag the stack puts on its state machine so `start --stack NAME` can find it. */
export const STACK_TAG = 'inference-baseline:stack';

/**
 * The environment variable that names the role PrepareRun assumes to presign the runner bundle's
 * URL: a session of its own, as long as the URL, so the URL never dies with the Lambda's credentials.
 */
export const BUNDLE_READER_ENV = 'INFERENCE_BASELINE_BUNDLE_READER';

/** The environment variable through which the stack hands PrepareRun its RunDefaults (JSON). */
export const RUN_DEFAULTS_ENV = 'INFERENCE_BASELINE_DEFAULTS';

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** S3 bucket names (3–63 characters: lowercase letters, digits, dots and hyphens, starting and ending alphanumeric). */
export const S3_BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** AWS region names: us-west-2, eu-central-1, us-gov-west-1, ap-southeast-4. */
export const AWS_REGION_NAME = /^[a-z]{2}(-[a-z]+)+-\d+$/;
/** Availability zone names as node labels carry them: us-west-2a, or a Local / Wavelength Zone (us-west-2-lax-1a). */
export const ZONE_NAME = /^(?:[a-z]{2}(-[a-z]+)+-\d+[a-z]|[a-z]{2}(-[a-z]+)+-\d+(-[a-z0-9]+)+)$/;
/**
 * Container image references (the OCI distribution grammar, simplified): [registry[:port]/]path[:tag][@sha256:digest].
 * A typo here would otherwise surface as ImagePullBackOff minutes into a run.
 */
export const IMAGE_REF = /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/;

const imageRef = z.string().regex(IMAGE_REF, 'is not a container image reference ([registry/]repository[:tag][@sha256:digest])');

const Resources = z.strictObject({
  requests: z.strictObject({ cpu: z.string(), memory: z.string() }),
  limits: z.strictObject({ cpu: z.string(), memory: z.string() }),
});
export type Resources = z.infer<typeof Resources>;

/**
 * The runner's resources: requests equal to limits (Guaranteed QoS), so the load generator is
 * neither throttled below what it asked for nor squeezed by neighbours — a throttled load generator
 * measures itself. The seed asks for 2 CPU / 4 GiB and allows bursts to 4 / 8 GiB; a burst that the
 * node may not grant is exactly what a baseline must not depend on, so the request is the limit.
 */
export const seedResources: Resources = { requests: { cpu: '2', memory: '4Gi' }, limits: { cpu: '2', memory: '4Gi' } };

const jobDefaults = {
  deadlineMarginSeconds: STACK_DEFAULTS.deadlineMarginSeconds,
  schedulingGraceSeconds: STACK_DEFAULTS.schedulingGraceSeconds,
  ttlSecondsAfterFinished: 3600,
  pollIntervalSeconds: STACK_DEFAULTS.pollIntervalSeconds,
  maxRatePerPod: 50,
  resources: seedResources,
};

/** The stack's defaults as PrepareRun receives them (one JSON environment variable). */
export const RunDefaults = z.strictObject({
  clusterName: z.string().min(1),
  region: z.string().regex(AWS_REGION_NAME, 'is not an AWS region name (like us-west-2)'),
  bucket: z.string().regex(S3_BUCKET_NAME, 'is not an S3 bucket name (3–63 characters: lowercase letters, digits, dots, hyphens)'),
  scenario: z.string().min(1).default(STACK_DEFAULTS.scenario),
  runner: z.enum(runnerKinds).default(STACK_DEFAULTS.runner),
  runnerDelivery: z.enum(runnerDeliveries).default(STACK_DEFAULTS.runnerImageMode),
  target: z.strictObject({
    baseUrl: ServerBaseUrl,
    modelName: z.string().min(1),
    tokenizer: z.string().min(1).optional(),
    namespace: z.string().regex(DNS_LABEL),
    podSelector: z.record(z.string(), z.string()),
    /** Each target pod's Prometheus endpoint: http://<pod IP>:<port><path>. */
    metricsPort: z.number().int().min(1).max(65535).default(STACK_DEFAULTS.targetMetricsPort),
    metricsPath: z.string().startsWith('/').default(STACK_DEFAULTS.targetMetricsPath),
  }),
  benchmarkNamespace: z.string().regex(DNS_LABEL),
  serviceAccountName: z.string().regex(DNS_LABEL),
  images: z.strictObject({
    /** Stock Node 22 image that fetches the runner bundle (bundle delivery). */
    node: imageRef,
    /** Full image reference of inference-perf. */
    inferencePerf: imageRef,
    /** Image built from the Dockerfile (image delivery). */
    runner: imageRef.optional(),
  }),
  /** The execution timeout: a run whose Job cannot end and be aggregated inside it is refused. */
  workflowTimeoutSeconds: z.number().int().positive().default(STACK_DEFAULTS.workflowTimeoutMinutes * 60),
  /**
   * Where the runner pod fetches a tokenizer named by a Hugging Face model id (both runners honour
   * HF_ENDPOINT and HF_TOKEN): a mirror for a cluster without internet, and a Secret in the
   * benchmark namespace whose key `token` is the access token for gated models.
   */
  hub: z
    .strictObject({
      endpoint: z.url({ protocol: /^https?$/, error: 'must be the http(s) URL of a Hugging Face hub or mirror' }).optional(),
      tokenSecret: z.string().regex(DNS_LABEL, 'must be a Kubernetes Secret name').optional(),
    })
    .optional(),
  /** The role the runner's ServiceAccount must be associated with (EKS Pod Identity), or annotated with (IRSA); checked before a run. */
  runnerRoleArn: z.string().min(1).optional(),
  /** How the workflow reaches the Kubernetes API (PrepareRun checks the cluster's endpoint allows it). */
  clusterAccess: z.enum(clusterAccessModes).default(STACK_DEFAULTS.clusterAccess),
  /** How the runner gets credentials; with `irsa`, the cluster's OIDC issuer the runner role trusts (host/path, no scheme). */
  runnerCredentials: z.enum(runnerCredentialModes).default(STACK_DEFAULTS.runnerCredentials),
  oidcIssuer: z.string().min(1).optional(),
  /** The runner bundle asset (bundle delivery); its sha256 is checked in the pod. */
  bundle: z.strictObject({ bucket: z.string(), key: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).optional(),
  job: z
    .strictObject({
      /** Added to the scenario's duration for image pull, bundle download, warm-up and drain. */
      deadlineMarginSeconds: z.number().int().positive().default(jobDefaults.deadlineMarginSeconds),
      /** A runner pod still unschedulable this long after the Job started fails the run with the scheduler's message. */
      schedulingGraceSeconds: z.number().int().positive().default(jobDefaults.schedulingGraceSeconds),
      ttlSecondsAfterFinished: z.number().int().nonnegative().default(jobDefaults.ttlSecondsAfterFinished),
      pollIntervalSeconds: z.number().int().min(5).max(600).default(jobDefaults.pollIntervalSeconds),
      /** Requests/s one native runner pod is trusted to pace precisely; more → more pods (Indexed Job shards). */
      maxRatePerPod: z.number().positive().default(jobDefaults.maxRatePerPod),
      resources: Resources.default(seedResources),
    })
    .default(jobDefaults),
});
export type RunDefaults = z.infer<typeof RunDefaults>;
export type RunDefaultsInput = z.input<typeof RunDefaults>;
