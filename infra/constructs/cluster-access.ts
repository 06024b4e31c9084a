import { Stack } from 'aws-cdk-lib';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge, arnRef, iam5 } from '../nag.ts';
import type { StackConfig } from '../config.ts';
import { accessPolicies, RUNS_KEY_PATTERN, RUNS_PREFIX } from '../derive.ts';

export interface ClusterAccessProps {
  config: StackConfig;
  /** The state machine's role: gets one access entry with both namespace-scoped policies. */
  workflowRole: iam.IRole;
  bucket: s3.IBucket;
}

/**
 * Identity in the cluster, with the cluster known by name only (it is not part of this stack):
 * - an EKS access entry for the state machine role — AmazonEKSEditPolicy on the benchmark
 *   namespace, AmazonEKSViewPolicy on the target namespace (one principal, one entry);
 * - an EKS Pod Identity association giving the runner's ServiceAccount a role that may write
 *   under `runs/` only (+ GetObject/ListBucket, which inference-perf uses).
 */
export class ClusterAccess extends Construct {
  readonly accessEntry: eks.CfnAccessEntry;
  readonly runnerRole: iam.Role;
  readonly podIdentity: eks.CfnPodIdentityAssociation;

  constructor(scope: Construct, id: string, props: ClusterAccessProps) {
    super(scope, id);
    const { config } = props;
    this.accessEntry = new eks.CfnAccessEntry(this, 'WorkflowAccessEntry', {
      clusterName: config.clusterName,
      principalArn: props.workflowRole.roleArn,
      type: 'STANDARD',
      accessPolicies: accessPolicies(config, Stack.of(this).partition),
    });

    this.runnerRole = new iam.Role(this, 'RunnerRole', {
      assumedBy: new iam.SessionTagsPrincipal(new iam.ServicePrincipal('pods.eks.amazonaws.com')),
      description: `inference-baseline runner (${config.benchmarkNamespace}/${config.runnerServiceAccount}): writes benchmark results under ${RUNS_PREFIX}`,
    });
    this.runnerRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'],
        resources: [props.bucket.arnForObjects(RUNS_KEY_PATTERN)],
      }),
    );
    this.runnerRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [props.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [RUNS_KEY_PATTERN] } },
      }),
    );
    acknowledge(this.runnerRole, [
      {
        id: iam5(`${arnRef(props.bucket)}/${RUNS_KEY_PATTERN}`),
        reason: 'The runner writes one object per shard and run under runs/; the keys cannot be named in advance.',
      },
    ]);

    this.podIdentity = new eks.CfnPodIdentityAssociation(this, 'RunnerPodIdentity', {
      clusterName: config.clusterName,
      namespace: config.benchmarkNamespace,
      serviceAccount: config.runnerServiceAccount,
      roleArn: this.runnerRole.roleArn,
    });
  }
}
