import { dirname, join } from 'node:path';
import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { acknowledge, arnRef, iam5 } from '../nag.ts';
import { RUN_DEFAULTS_ENV } from '../../runtime/core/run-spec/index.ts';
import { RUNS_KEY_PATTERN, RUNS_PREFIX } from '../derive.ts';
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
}

/**
 * The three Lambda handlers (Node 22, arm64, esbuild ESM bundles, no Docker), each with only the
 * permissions it uses.
 */
export class Functions extends Construct {
  readonly prepareRun: nodejs.NodejsFunction;
  readonly aggregate: nodejs.NodejsFunction;
  readonly publish: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props: FunctionsProps) {
    super(scope, id);
    const make = (name: string, file: string, memorySize: number, timeout: Duration, environment: Record<string, string>, shipFiles: string[] = []) => {
      const fn = new nodejs.NodejsFunction(this, name, {
        entry: join(props.projectRoot, 'runtime', 'lambda', file),
        handler: 'handler',
        projectRoot: props.projectRoot,
        depsLockFilePath: join(props.projectRoot, 'package-lock.json'),
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize,
        timeout,
        environment: { ...environment, NODE_OPTIONS: '--enable-source-maps' },
        logGroup: new logs.LogGroup(this, `${name}Logs`, { retention: logs.RetentionDays.ONE_YEAR }),
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
                shipFiles.map((f) => `mkdir -p "${join(outputDir, 'node_modules', dirname(f))}" && cp "${join(inputDir, 'node_modules', f)}" "${join(outputDir, 'node_modules', f)}"`),
            },
          }),
        },
      });
      acknowledge(fn, [
        {
          id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
          reason: "AWSLambdaBasicExecutionRole only allows writing this function's CloudWatch Logs.",
        },
        { id: 'AwsSolutions-L1', reason: 'The design fixes Node.js 22 for Lambda and the runner Job (DESIGN.md §9).' },
      ]);
      return fn;
    };

    const stack = Stack.of(this);
    this.prepareRun = make('PrepareRun', 'prepare-run.ts', 512, Duration.seconds(60), { [RUN_DEFAULTS_ENV]: props.defaultsJson });
    this.aggregate = make('Aggregate', 'aggregate.ts', 2048, Duration.minutes(10), { RESULTS_BUCKET: props.bucket.bucketName }, [
      // report.html inlines uPlot (runtime/report/assets.ts reads these at run time).
      'uplot/dist/uPlot.iife.min.js',
      'uplot/dist/uPlot.min.css',
    ]);
    this.publish = make('Publish', 'publish.ts', 512, Duration.minutes(2), {
      RESULTS_BUCKET: props.bucket.bucketName,
      // Read by runtime/lambda/publish.ts (EMF namespace).
      METRICS_NAMESPACE: props.metricNamespace,
    });

    // PrepareRun: DescribeCluster on the one cluster, write run-spec.json / config.yml, presign the bundle.
    this.prepareRun.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['eks:DescribeCluster'],
        resources: [stack.formatArn({ service: 'eks', resource: 'cluster', resourceName: props.clusterName })],
      }),
    );
    this.prepareRun.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [props.bucket.arnForObjects(RUNS_KEY_PATTERN)] }));
    if (props.bundle) {
      this.prepareRun.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [props.bundle.bucket.arnForObjects(props.bundle.s3ObjectKey)] }),
      );
    }

    // Aggregate: read a run's raw files, write its summary next to them.
    const listRuns = new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [props.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [RUNS_KEY_PATTERN, RUNS_PREFIX] } },
    });
    this.aggregate.addToRolePolicy(listRuns);
    this.aggregate.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: [props.bucket.arnForObjects(RUNS_KEY_PATTERN)] }),
    );

    // Publish: read the run's summary.json; the metrics go out as an EMF log line (no CloudWatch API call).
    this.publish.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [props.bucket.arnForObjects(RUNS_KEY_PATTERN)] }));
    const runsOnly = {
      id: iam5(`${arnRef(props.bucket)}/${RUNS_KEY_PATTERN}`),
      reason: 'Objects are scoped to the runs/ prefix of the results bucket: one object per run file cannot be named in advance.',
    };
    const xray = { id: iam5('*'), reason: 'X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions (tracing is active).' };
    for (const fn of [this.prepareRun, this.aggregate, this.publish]) acknowledge(fn, [runsOnly, xray]);
  }
}
