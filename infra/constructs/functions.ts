import { dirname, join } from 'node:path';
import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { acknowledge, arnRef, iam5 } from '../nag.ts';
import { BUNDLE_READER_ENV, RUN_DEFAULTS_ENV } from '../../runtime/core/run-spec/index.ts';
import { BUNDLE_BOOTSTRAP_FILE } from '../../runtime/bootstrap/index.ts';
import { CLAIMS_PREFIX } from '../../runtime/core/claims.ts';
import { POD_IDENTITY_AGENT_ADDON } from '../../runtime/core/run-spec/stack-defaults.ts';
import { HISTORY_KEY_PATTERN, RUNS_KEY_PATTERN, RUNS_PREFIX } from '../derive.ts';
import { ESM_REQUIRE_BANNER } from './runner-bundle.ts';

export interface FunctionsProps {
  projectRoot: string;
  bucket: s3.IBucket;
  clusterName: string;
  metricNamespace: string;
  /** RunDefaults JSON for PrepareRun (tokens allowed). */
  defaultsJson: string;
  /** The runner bundle PrepareRun presigns (bundle delivery). */
  bundle?: s3assets.Asset;
  /** `clusterAccess: vpc`: KubeCall is attached to these subnets and security groups. */
  vpc?: { subnetIds: string[]; securityGroupIds: string[] };
}

/** One handler: its entry under runtime/lambda/, its size, and the files it reads at run time. */
interface HandlerSpec {
  name: string;
  file: string;
  memorySize: number;
  timeout: Duration;
  environment: Record<string, string>;
  /** [from (relative to the project root), to (relative to the bundle)]: copied beside the bundle. */
  shipFiles?: Array<[string, string]>;
}

/**
 * The four Lambda handlers (Node 22, arm64, esbuild ESM bundles, no Docker), each with only the
 * permissions it uses.
 */
export class Functions extends Construct {
  readonly prepareRun: nodejs.NodejsFunction;
  readonly aggregate: nodejs.NodejsFunction;
  readonly publish: nodejs.NodejsFunction;
  readonly releaseRun: nodejs.NodejsFunction;
  /** The workflow's Kubernetes calls from the cluster's VPC (`clusterAccess: vpc` only). */
  readonly kubeCall?: nodejs.NodejsFunction;
  /** Each function's timeout: the workflow gives its Task the same. */
  static readonly timeouts = { prepareRun: Duration.seconds(60), aggregate: Duration.minutes(10), publish: Duration.minutes(2), releaseRun: Duration.seconds(60), kubeCall: Duration.seconds(30) };

  constructor(scope: Construct, id: string, private readonly props: FunctionsProps) {
    super(scope, id);
    const t = Functions.timeouts;
    // The Job's bootstrap program is read from beside the bundle (runtime/bootstrap/index.ts).
    this.prepareRun = this.handler({
      name: 'PrepareRun',
      file: 'prepare-run.ts',
      memorySize: 512,
      timeout: t.prepareRun,
      environment: { [RUN_DEFAULTS_ENV]: props.defaultsJson },
      shipFiles: [[`runtime/bootstrap/${BUNDLE_BOOTSTRAP_FILE}`, BUNDLE_BOOTSTRAP_FILE]],
    });
    this.releaseRun = this.handler({ name: 'ReleaseRun', file: 'release-run.ts', memorySize: 256, timeout: t.releaseRun, environment: { [RUN_DEFAULTS_ENV]: props.defaultsJson } });
    this.aggregate = this.handler({
      name: 'Aggregate',
      file: 'aggregate.ts',
      memorySize: 2048,
      timeout: t.aggregate,
      environment: { RESULTS_BUCKET: props.bucket.bucketName },
      // report.html inlines uPlot (runtime/report/assets.ts reads these at run time, through node_modules/).
      shipFiles: [
        ['node_modules/uplot/dist/uPlot.iife.min.js', 'node_modules/uplot/dist/uPlot.iife.min.js'],
        ['node_modules/uplot/dist/uPlot.min.css', 'node_modules/uplot/dist/uPlot.min.css'],
      ],
    });
    // METRICS_NAMESPACE is read by runtime/lambda/publish.ts (the EMF namespace).
    this.publish = this.handler({ name: 'Publish', file: 'publish.ts', memorySize: 512, timeout: t.publish, environment: { RESULTS_BUCKET: props.bucket.bucketName, METRICS_NAMESPACE: props.metricNamespace } });

    if (props.vpc) this.kubeCall = this.vpcKubeCall(props.vpc);

    this.grantPrepareRun();
    this.grantReleaseRun();
    this.grantAggregate();
    // Publish: read the run's summary.json; the metrics go out as an EMF log line (no CloudWatch API call).
    this.publish.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [props.bucket.arnForObjects(RUNS_KEY_PATTERN)] }));
    this.acknowledgeScopes();
  }

  private handler(spec: HandlerSpec): nodejs.NodejsFunction {
    const root = this.props.projectRoot;
    const shipFiles = spec.shipFiles ?? [];
    const fn = new nodejs.NodejsFunction(this, spec.name, {
      entry: join(root, 'runtime', 'lambda', spec.file),
      handler: 'handler',
      projectRoot: root,
      depsLockFilePath: join(root, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: spec.memorySize,
      timeout: spec.timeout,
      environment: { ...spec.environment, NODE_OPTIONS: '--enable-source-maps' },
      logGroup: new logs.LogGroup(this, `${spec.name}Logs`, { retention: logs.RetentionDays.ONE_YEAR }),
      tracing: lambda.Tracing.ACTIVE,
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: 'node22',
        platform: 'node',
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        sourceMap: true,
        sourcesContent: false,
        // Bundle the SDK too: the versions tested are the versions deployed.
        externalModules: [],
        // Files read at run time (not imported) are copied beside the bundle under node_modules/,
        // where require.resolve finds them; installing packages would need the network at synth.
        ...(shipFiles.length > 0 && {
          commandHooks: {
            beforeBundling: () => [],
            beforeInstall: () => [],
            afterBundling: (inputDir: string, outputDir: string) =>
              shipFiles.map(([from, to]) => `mkdir -p "${join(outputDir, dirname(to))}" && cp "${join(inputDir, from)}" "${join(outputDir, to)}"`),
          },
        }),
      },
    });
    acknowledge(fn, [
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: "AWSLambdaBasicExecutionRole only allows writing this function's CloudWatch Logs.",
      },
      { id: 'AwsSolutions-L1', reason: 'The design fixes Node.js 22 for Lambda and the runner Job.' },
    ]);
    return fn;
  }

  /**
   * KubeCall in the cluster's VPC. Set on the function's CloudFormation resource: the L2 `vpc` prop
   * would need the VPC looked up at synth (an AWS call); the subnets and groups are all Lambda needs.
   * It signs its EKS token locally and calls only the API server: no STS or other endpoint needed.
   */
  private vpcKubeCall(vpc: { subnetIds: string[]; securityGroupIds: string[] }): nodejs.NodejsFunction {
    const fn = this.handler({ name: 'KubeCall', file: 'kube-call.ts', memorySize: 256, timeout: Functions.timeouts.kubeCall, environment: {} });
    (fn.node.defaultChild as lambda.CfnFunction).vpcConfig = { subnetIds: vpc.subnetIds, securityGroupIds: vpc.securityGroupIds };
    // The network interfaces Lambda creates in those subnets.
    fn.role!.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole'));
    acknowledge(fn, [
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        reason: "AWSLambdaVPCAccessExecutionRole only allows managing the function's own network interfaces in the VPC.",
      },
    ]);
    return fn;
  }

  private clusterArn(): string {
    return Stack.of(this).formatArn({ service: 'eks', resource: 'cluster', resourceName: this.props.clusterName });
  }

  /** DescribeCluster on the one cluster, its Pod Identity associations, run-spec.json / config.yml, the claim, the bundle it presigns. */
  private grantPrepareRun(): void {
    const { bucket, bundle, clusterName } = this.props;
    const stack = Stack.of(this);
    const fn = this.prepareRun;
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['eks:DescribeCluster'], resources: [this.clusterArn()] }));
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['eks:ListPodIdentityAssociations', 'eks:DescribePodIdentityAssociation'],
        resources: [this.clusterArn(), stack.formatArn({ service: 'eks', resource: 'podidentityassociation', resourceName: `${clusterName}/*` })],
      }),
    );
    // Whether a Fargate profile takes the benchmark namespace (Pod Identity does not work there).
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['eks:ListFargateProfiles', 'eks:DescribeFargateProfile'],
        resources: [this.clusterArn(), stack.formatArn({ service: 'eks', resource: 'fargateprofile', resourceName: `${clusterName}/*` })],
      }),
    );
    // Whether the Pod Identity Agent add-on is installed (without it the runner pod gets no credentials).
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['eks:DescribeAddon'], resources: [stack.formatArn({ service: 'eks', resource: 'addon', resourceName: `${clusterName}/${POD_IDENTITY_AGENT_ADDON}/*` })] }),
    );
    // run-spec.json (+ config.yml) and read-back for a retried write (GetObject); the target's claim.
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject', 's3:GetObject'], resources: [bucket.arnForObjects(RUNS_KEY_PATTERN)] }));
    for (const st of this.claimsStatements()) fn.addToRolePolicy(st);
    if (!bundle) return;
    // The bundle's presigned URL is signed by a session of its own (BundleReader, assumed for as
    // long as the URL lives), not by this function's credentials, which may expire sooner.
    const reader = new iam.Role(this, 'BundleReader', {
      assumedBy: new iam.ArnPrincipal(fn.role!.roleArn),
      maxSessionDuration: Duration.hours(1),
      description: 'inference-baseline: reads the runner bundle, for the presigned URL the Job downloads it by',
    });
    reader.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [bundle.bucket.arnForObjects(bundle.s3ObjectKey)] }));
    // When the CDK bootstrap bucket is encrypted with a customer-managed key, the pod's download needs kms:Decrypt through S3.
    reader.addToPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: ['*'],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com`, 'kms:CallerAccount': stack.account } },
      }),
    );
    acknowledge(reader, [{ id: iam5('*'), reason: 'kms:Decrypt is limited to calls through S3 in this account (the CDK bootstrap bucket key is not known at synth).' }]);
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: [reader.roleArn] }));
    fn.addEnvironment(BUNDLE_READER_ENV, reader.roleArn);
  }

  /** The reaper's: the claim, and DescribeCluster to rebuild the run's names. */
  private grantReleaseRun(): void {
    for (const st of this.claimsStatements()) this.releaseRun.addToRolePolicy(st);
    this.releaseRun.addToRolePolicy(new iam.PolicyStatement({ actions: ['eks:DescribeCluster'], resources: [this.clusterArn()] }));
  }

  /**
   * A target's claim: read, written (conditionally), deleted — and listed: without s3:ListBucket, S3
   * answers a GetObject of a claim already released with 403 AccessDenied instead of 404, and a
   * released claim would read as an error.
   */
  private claimsStatements(): iam.PolicyStatement[] {
    const bucket = this.props.bucket;
    return [
      new iam.PolicyStatement({ actions: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject'], resources: [bucket.arnForObjects(`${CLAIMS_PREFIX}*`)] }),
      new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn], conditions: { StringLike: { 's3:prefix': [`${CLAIMS_PREFIX}*`] } } }),
    ];
  }

  /** Read a run's raw files, write its summary next to them; read its series' history and write the run's own entry there. */
  private grantAggregate(): void {
    const bucket = this.props.bucket;
    this.aggregate.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [RUNS_KEY_PATTERN, RUNS_PREFIX, HISTORY_KEY_PATTERN] } },
      }),
    );
    this.aggregate.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: [bucket.arnForObjects(RUNS_KEY_PATTERN), bucket.arnForObjects(HISTORY_KEY_PATTERN)] }));
  }

  /** cdk-nag's wildcard findings, each with its reason. */
  private acknowledgeScopes(): void {
    const { bucket, clusterName } = this.props;
    const stack = Stack.of(this);
    const runsOnly = {
      id: iam5(`${arnRef(bucket)}/${RUNS_KEY_PATTERN}`),
      reason: 'Objects are scoped to the runs/ prefix of the results bucket: one object per run file cannot be named in advance.',
    };
    const historyOnly = {
      id: iam5(`${arnRef(bucket)}/${HISTORY_KEY_PATTERN}`),
      reason: 'One history entry per run under history/ (written by Aggregate): run ids are not known at deploy time.',
    };
    const claimsOnly = {
      id: iam5(`${arnRef(bucket)}/${CLAIMS_PREFIX}*`),
      reason: 'One claim object per benchmark target under claims/ (exclusive runs); the targets are not known at deploy time.',
    };
    const xray = { id: iam5('*'), reason: 'X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions (tracing is active); kms:Decrypt is limited to calls through S3 in this account (the CDK bootstrap bucket key is not known at synth).' };
    // As cdk-nag prints the resource: tokens by name, literal region and account when the stack has them.
    const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
    const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    const associations = { id: iam5(`arn:<AWS::Partition>:eks:${region}:${account}:podidentityassociation/${clusterName}/*`), reason: 'Pod Identity associations of the one cluster: their ids are assigned by EKS.' };
    const fargate = { id: iam5(`arn:<AWS::Partition>:eks:${region}:${account}:fargateprofile/${clusterName}/*`), reason: 'Fargate profiles of the one cluster: PrepareRun reads which take the benchmark namespace.' };
    const addon = { id: iam5(`arn:<AWS::Partition>:eks:${region}:${account}:addon/${clusterName}/${POD_IDENTITY_AGENT_ADDON}/*`), reason: 'The one add-on of the one cluster: its ARN ends with an id EKS assigns.' };
    for (const fn of [this.prepareRun, this.aggregate, this.publish, this.releaseRun, ...(this.kubeCall ? [this.kubeCall] : [])]) acknowledge(fn, [runsOnly, historyOnly, claimsOnly, xray, associations, fargate, addon]);
  }
}
