import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../aws/s3.ts';
import { LOCAL_ENV, type LocalStack } from '../core/ports/local-stack.ts';
import { labelSelectorText, parseLabelSelector, STACK_DEFAULTS } from '../core/run-spec/index.ts';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../simulator/index.ts';
import { realCloudClock, type CloudClock } from './clock.ts';
import { LocalCluster } from './kubernetes/cluster.ts';
import type { KubeObject } from './kubernetes/objects.ts';
import { PodIdentityAgent } from './kubernetes/pod-identity.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalS3, type LocalS3 } from './local-s3.ts';

/**
 * Everything the local workflow runs against, started and stopped together: an S3 server with S3's
 * rules (results and assets buckets), the runner bundle built exactly as the stack builds it and
 * uploaded as the stack's asset would be, the Pod Identity agent, the Kubernetes stand-in with a
 * Running target pod, and the simulator unless a real target is given.
 */

export const RESULTS_BUCKET = 'inference-baseline-results';
export const ASSETS_BUCKET = 'cdk-assets-local';
export const RUNNER_ROLE_ARN = `arn:aws:iam::${LOCAL_ENV.account}:role/inference-baseline-local-runner`;
export const LOCAL_CLUSTER = 'local';
export const LOCAL_ZONE = 'local-1a';

export interface EnvironmentOptions {
  /** A real server to measure; default: the simulator. */
  target?: string;
  simulator?: SimulatorOptions;
  /** Stack settings (the same keys as cdk.json context). */
  config: Record<string, unknown>;
  /** Where pods print their log lines. */
  onPodLog?: (pod: string, line: string) => void;
  /** `false`: the runner ServiceAccount gets no Pod Identity association (a misconfigured cluster). */
  podIdentity?: boolean;
  /** Builds the runner bundle (the stack's asset) when `bundleFile` is not given. */
  stack: Pick<LocalStack, 'buildRunnerBundle'>;
  /** A runner bundle already built from these sources (tests build it once per run). */
  bundleFile?: string;
  /** The cloud's time (Job deadlines, image pulls); default: real time. */
  clock?: CloudClock;
}

export interface LocalEnvironment {
  s3: LocalS3;
  s3Client: S3Client;
  cluster: LocalCluster;
  simulator?: RunningSimulator;
  targetUrl: string;
  bundle: { bucket: string; key: string; sha256: string };
  /** The stack settings the workflow is synthesized with (the target is the local one). */
  config: Record<string, unknown> & { clusterName: string; targetBaseUrl: string };
  /** The zone EC2 reports for the target's node; null: no instance has its IP (Fargate). */
  zone: string | null;
  clock: CloudClock;
  root: string;
  stop(): Promise<void>;
}

export async function startEnvironment(o: EnvironmentOptions): Promise<LocalEnvironment> {
  const root = await mkdtemp(join(tmpdir(), 'ib-local-'));
  const stops: Array<() => Promise<void>> = [() => rm(root, { recursive: true, force: true })];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    const simulator = o.target ? undefined : await startSimulator({ keepGroundTruth: false, ...o.simulator });
    if (simulator) stops.push(() => simulator.close());
    const targetUrl = o.target ?? simulator!.url;
    const config = { clusterName: LOCAL_CLUSTER, ...o.config, targetBaseUrl: targetUrl } as LocalEnvironment['config'];

    const s3 = await startLocalS3({ buckets: [RESULTS_BUCKET, ASSETS_BUCKET], directory: join(root, 's3') });
    stops.push(() => s3.stop());
    const s3Client = createS3Client({ endpoint: s3.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    stops.push(async () => s3Client.destroy());
    const bundle = await uploadRunnerBundle(s3Client, o.bundleFile ?? (await buildBundle(o.stack, join(root, 'bundle'))));
    const clock = o.clock ?? realCloudClock;

    const sa = { namespace: String(config.benchmarkNamespace ?? STACK_DEFAULTS.benchmarkNamespace), serviceAccount: String(config.runnerServiceAccount ?? STACK_DEFAULTS.runnerServiceAccount) };
    const agent = new PodIdentityAgent(o.podIdentity === false ? [] : [{ ...sa, credentials: LOCAL_CREDENTIALS }]);
    await agent.start();
    stops.push(() => agent.stop());
    const targetNamespace = String(config.targetNamespace ?? STACK_DEFAULTS.targetNamespace);
    const cluster = new LocalCluster(
      { namespaces: [...new Set(['default', targetNamespace, sa.namespace])], pods: [targetPod(targetNamespace, String(config.targetPodSelector ?? STACK_DEFAULTS.targetPodSelector), simulator ? `inference-baseline/simulator:${simulator.options.version}` : 'external-target')] },
      {
        sandboxRoot: join(root, 'pods'),
        agent,
        clock,
        onLog: o.onPodLog ?? (() => undefined),
        // What a pod needs to reach this machine's services instead of AWS's, and nothing else.
        extraEnv: { AWS_ENDPOINT_URL_S3: s3.endpoint, AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      },
    );
    stops.push(() => cluster.shutdown());
    return { s3, s3Client, cluster, ...(simulator ? { simulator } : {}), targetUrl, bundle, config, zone: LOCAL_ZONE, clock, root, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function buildBundle(stack: Pick<LocalStack, 'buildRunnerBundle'>, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const outfile = join(dir, 'bundle.mjs');
  await stack.buildRunnerBundle(outfile);
  return outfile;
}

/** The runner bundle uploaded like the stack's asset (its key is its content's hash). */
async function uploadRunnerBundle(s3: S3Client, file: string): Promise<{ bucket: string; key: string; sha256: string }> {
  const body = await readFile(file);
  const sha256 = createHash('sha256').update(body).digest('hex');
  const key = `${sha256}.mjs`;
  await s3.send(new PutObjectCommand({ Bucket: ASSETS_BUCKET, Key: key, Body: body }));
  return { bucket: ASSETS_BUCKET, key, sha256 };
}

/** The Running inference pod the workflow looks for (its labels are the stack's target selector). */
function targetPod(namespace: string, selector: string, image: string): KubeObject {
  const sel = parseLabelSelector(selector);
  const labels = 'labels' in sel ? sel.labels : {};
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `target-${labelSelectorText(labels).replace(/[^a-z0-9]+/gi, '-').toLowerCase().slice(0, 40)}`, namespace, uid: 'target', labels },
    spec: { nodeName: 'local-node', containers: [{ name: 'server', image }] },
    status: { phase: 'Running', hostIP: '127.0.0.1', podIP: '127.0.0.1' },
  };
}
