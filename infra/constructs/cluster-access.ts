import { Stack } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge, arnRef, iam5 } from '../nag.ts';
import type { StackConfig } from '../config.ts';
import { RUNS_KEY_PATTERN, RUNS_PREFIX, workflowAccessEntry } from '../derive.ts';

export interface RunnerIdentityProps {
  config: StackConfig;
  bucket: s3.IBucket;
}

/**
 * The runner's identity: a role that may write under `runs/` only (+ GetObject/ListBucket, which
 * inference-perf uses), given to the runner's ServiceAccount by an EKS Pod Identity association —
 * one association per ServiceAccount, so two stacks on one cluster need different ServiceAccounts
 * (PrepareRun checks the association is this stack's) — or, with `runnerCredentials: irsa` (Fargate,
 * where Pod Identity does not work), trusted by the cluster's OIDC provider for exactly that
 * ServiceAccount, which the workflow creates with the role's annotation.
 */
export class RunnerIdentity extends Construct {
  readonly role: iam.Role;
  readonly podIdentity?: eks.CfnPodIdentityAssociation;

  constructor(scope: Construct, id: string, props: RunnerIdentityProps) {
    super(scope, id);
    const { config } = props;
    const stack = Stack.of(this);
    const issuer = config.oidcIssuer;
    this.role = new iam.Role(this, 'RunnerRole', {
      assumedBy:
        config.runnerCredentials === 'irsa' && issuer
          ? new iam.FederatedPrincipal(
              stack.formatArn({ service: 'iam', region: '', resource: 'oidc-provider', resourceName: issuer }),
              { StringEquals: { [`${issuer}:sub`]: `system:serviceaccount:${config.benchmarkNamespace}:${config.runnerServiceAccount}`, [`${issuer}:aud`]: 'sts.amazonaws.com' } },
              'sts:AssumeRoleWithWebIdentity',
            )
          : new iam.SessionTagsPrincipal(new iam.ServicePrincipal('pods.eks.amazonaws.com')),
      description: `inference-baseline runner (${config.benchmarkNamespace}/${config.runnerServiceAccount}): writes benchmark results under ${RUNS_PREFIX}`,
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'],
        resources: [props.bucket.arnForObjects(RUNS_KEY_PATTERN)],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [props.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [RUNS_KEY_PATTERN] } },
      }),
    );
    acknowledge(this.role, [
      {
        id: iam5(`${arnRef(props.bucket)}/${RUNS_KEY_PATTERN}`),
        reason: 'The runner writes one object per shard and run under runs/; the keys cannot be named in advance.',
      },
    ]);
    if (config.runnerCredentials === 'irsa') return;
    this.podIdentity = new eks.CfnPodIdentityAssociation(this, 'RunnerPodIdentity', {
      clusterName: config.clusterName,
      namespace: config.benchmarkNamespace,
      serviceAccount: config.runnerServiceAccount,
      roleArn: this.role.roleArn,
    });
  }
}

export interface WorkflowAccessProps {
  config: StackConfig;
  /** The state machine role (the reaper shares it): one access entry with both namespace-scoped policies. */
  workflowRole: iam.IRole;
}

/**
 * The state machine role in the cluster: one EKS access entry (one principal, one entry) with
 * AmazonEKSEditPolicy on the benchmark namespace and AmazonEKSViewPolicy on the target namespace —
 * or, with `workflowKubernetesAccess: rbac`, no policy but the Kubernetes group that the Roles of
 * `inference-baseline render --rbac` bind (exactly the calls the workflow makes). Created after the
 * role (an access entry for a role that does not exist yet fails).
 */
export class WorkflowAccess extends Construct {
  readonly accessEntry: eks.CfnAccessEntry;

  constructor(scope: Construct, id: string, props: WorkflowAccessProps) {
    super(scope, id);
    this.accessEntry = new eks.CfnAccessEntry(this, 'WorkflowAccessEntry', {
      clusterName: props.config.clusterName,
      principalArn: props.workflowRole.roleArn,
      type: 'STANDARD',
      ...workflowAccessEntry(props.config, Stack.of(this).partition),
    });
    this.accessEntry.node.addDependency(props.workflowRole);
  }
}
