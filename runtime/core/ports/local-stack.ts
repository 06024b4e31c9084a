import type { RunDefaultsInput } from '../run-spec/stack-defaults.ts';

/**
 * The deployed stack as the local cloud (runtime/local) needs it, provided by infra/local-stack.ts.
 * runtime/ never imports infra/: the composition root (bin/inference-baseline.js for the CLI, the
 * tests) hands an implementation to the local workflow.
 */

/**
 * The account and region the local cloud plays (its ARNs, its S3's signing region), its results
 * bucket (the stack's has a generated name) and the CDK bootstrap assets bucket of that account.
 */
export const LOCAL_ENV = {
  account: '000000000000',
  region: 'us-east-1',
  resultsBucket: 'inference-baseline-results',
  assetsBucket: 'cdk-hnb659fds-assets-000000000000-us-east-1',
} as const;

/** An Amazon States Language document. */
export type Definition = { StartAt: string; States: Record<string, Record<string, unknown>>; TimeoutSeconds?: number } & Record<string, unknown>;

/** The stack's Lambda functions the workflows invoke (KubeCall only with `clusterAccess: vpc`). */
export type WorkflowFunction = 'PrepareRun' | 'Aggregate' | 'Publish' | 'ReleaseRun' | 'KubeCall';
export type RequiredFunction = Exclude<WorkflowFunction, 'KubeCall'>;

/**
 * The IAM the template declares, its tokens resolved: each role's identity policies by role ARN, each
 * bucket's policy by bucket name, and the role each part of the stack runs as.
 */
export interface LocalIamModel {
  roles: Record<string, { name: string; trust: unknown; policies: Array<{ name: string; document: unknown }>; managedPolicies: string[] }>;
  bucketPolicies: Record<string, unknown>;
  principals: Record<RequiredFunction | 'workflow' | 'reaper', string> & { KubeCall?: string; runner?: string; bundleReader?: string };
}

/** An EKS access entry as the template declares it: who, with which access policies (by name, namespace-scoped or cluster-wide: null), in which Kubernetes groups. */
export interface LocalAccessEntry {
  principalArn: string;
  accessPolicies: Array<{ policy: string; namespaces: string[] | null }>;
  kubernetesGroups: string[];
}

/** What the local workflow takes from the synthesized template. Plain JSON: it can be cached. */
export interface SynthesizedWorkflow {
  template: Record<string, unknown>;
  /** The benchmark state machine's definition as CloudFormation would receive it, tokens resolved to local values. */
  definition: Definition;
  reaperDefinition: Definition;
  /** sha256 of the definition text as synthesized: what execution.json records. */
  definitionSha256: string;
  /** Lambda function ARNs (as resolved in the definitions) → the handler they run. */
  functionArns: Record<string, WorkflowFunction>;
  /** The reaper rule's pattern: the statuses of the workflow's executions it reacts to. */
  reapedStatuses: string[];
  /** The two state machines' ARNs, locally. */
  stateMachines: { workflow: string; reaper: string };
  /** Who may do what (AWS IAM, as the template declares it). */
  iam: LocalIamModel;
  /** The EKS access entries the stack creates (who may do what in the cluster). */
  accessEntries: LocalAccessEntry[];
  /** Where the stack's defaults say the runner bundle is (null: image delivery). */
  runnerBundle: { bucket: string; key: string } | null;
}

/** The references that are CloudFormation tokens in the stack and local values here. */
export interface StackRefs {
  region: string;
  bucket: string;
  runnerRoleArn?: string;
  bundle?: { bucket: string; key: string; sha256: string };
}

export interface LocalStack {
  /** The stack synthesized in-process (no bundling, no network) with these settings (cdk.json context keys). */
  synthesize(settings: Record<string, unknown>): SynthesizedWorkflow;
  /** The defaults the stack gives PrepareRun with these settings (what infra/derive.ts computes). */
  runDefaults(settings: Record<string, unknown>, refs: StackRefs): RunDefaultsInput;
  /** Builds the runner bundle exactly as the stack's asset is built. */
  buildRunnerBundle(outfile: string): Promise<void>;
}
