import { isIP } from 'node:net';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ClusterInfo } from '../aws/eks.ts';
import { createS3Client } from '../aws/s3.ts';
import { LOCAL_ENV, type LocalStack, type SynthesizedWorkflow } from '../core/ports/local-stack.ts';
import { labelSelectorText, parseLabelSelector, STACK_DEFAULTS } from '../core/run-spec/index.ts';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../simulator/index.ts';
import { realCloudClock, type CloudClock } from './clock.ts';
import { LocalIam } from './iam.ts';
import { renderWorkflowRbac } from '../core/manifests/rbac.ts';
import { appliedRbac, type AccessEntry } from './kubernetes/access.ts';
import { startKubernetesApi } from './kubernetes/api-server.ts';
import { LocalCluster } from './kubernetes/cluster.ts';
import { ENFORCE_LABEL } from './kubernetes/pod-security.ts';
import type { KubeObject } from './kubernetes/objects.ts';
import { PodIdentityAgent } from './kubernetes/pod-identity.ts';
import { LOCAL_OIDC_ISSUER, WebIdentity } from './kubernetes/web-identity.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalS3, type LocalS3 } from './local-s3.ts';

/**
 * Everything the local workflow runs against, started and stopped together: the stack synthesized
 * with the local settings, IAM as it declares it (every role with credentials of its own), an S3
 * server with S3's rules (results and assets buckets) that authorizes each request as its signer's
 * role, the runner bundle built exactly as the stack builds it and uploaded where the stack's asset
 * would be, the Pod Identity agent (the runner role's credentials), the Kubernetes stand-in with a
 * Running target pod, and the simulator unless a real target is given.
 */

export const RESULTS_BUCKET = LOCAL_ENV.resultsBucket;
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
  /** The stack synthesized with these settings (the local target's included). */
  synthesize(config: Record<string, unknown>): SynthesizedWorkflow;
  /** A runner bundle already built from these sources (tests build it once per run). */
  bundleFile?: string;
  /** The cloud's time (Job deadlines, image pulls); default: real time. */
  clock?: CloudClock;
  /** With `workflowKubernetesAccess: rbac`: whether the Roles of `render --rbac` were applied (default true; false: a step someone forgot). */
  rbacApplied?: boolean;
}

export interface LocalEnvironment {
  synth: SynthesizedWorkflow;
  iam: LocalIam;
  s3: LocalS3;
  /** The local administrator's client (the harness's own reads and writes: not evaluated by IAM). */
  s3Client: S3Client;
  /** A client signed as the given role (IAM evaluates its every request). */
  s3ClientAs(roleArn: string): S3Client;
  cluster: LocalCluster;
  simulator?: RunningSimulator;
  targetUrl: string;
  bundle: { bucket: string; key: string; sha256: string };
  /** The stack settings the workflow is synthesized with (the target is the local one). */
  config: Record<string, unknown> & { clusterName: string; targetBaseUrl: string };
  /** What DescribeCluster answers for the local cluster (its endpoint: the HTTPS API with `clusterAccess: vpc`). */
  clusterInfo: ClusterInfo;
  /** The cluster's OIDC issuer and STS (IRSA's web identities). */
  webIdentity: WebIdentity;
  /** With `clusterAccess: vpc`: why the HTTPS API refused a bearer token (the caller sees only 401). */
  tokenRefusals: string[];
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
    // The target pod's address is the target's own (a loopback port here, not a pod IP on :8000):
    // its metrics port is the target URL's unless the caller set one.
    const targetAddress = new URL(targetUrl);
    const config = { clusterName: LOCAL_CLUSTER, targetMetricsPort: Number(targetAddress.port || (targetAddress.protocol === 'https:' ? 443 : 80)), ...o.config, targetBaseUrl: targetUrl } as LocalEnvironment['config'];
    const synth = o.synthesize(config);
    const iam = new LocalIam(synth.iam, LOCAL_CREDENTIALS);

    const s3 = await startLocalS3({ buckets: [RESULTS_BUCKET, LOCAL_ENV.assetsBucket], directory: join(root, 's3'), iam });
    stops.push(() => s3.stop());
    const clients: S3Client[] = [];
    stops.push(async () => clients.forEach((c) => c.destroy()));
    const clientWith = (credentials: typeof LOCAL_CREDENTIALS | ReturnType<LocalIam['credentialsFor']>): S3Client => {
      const c = createS3Client({ endpoint: s3.endpoint, region: LOCAL_REGION, credentials });
      clients.push(c);
      return c;
    };
    const s3Client = clientWith(LOCAL_CREDENTIALS);
    const bundle = await uploadRunnerBundle(s3Client, o.bundleFile ?? (await buildBundle(o.stack, join(root, 'bundle'))), synth.runnerBundle ?? { bucket: LOCAL_ENV.assetsBucket, key: 'runner.mjs' });
    const clock = o.clock ?? realCloudClock;

    const sa = { namespace: String(config.benchmarkNamespace ?? STACK_DEFAULTS.benchmarkNamespace), serviceAccount: String(config.runnerServiceAccount ?? STACK_DEFAULTS.runnerServiceAccount) };
    const runnerRole = synth.iam.principals.runner;
    // With IRSA the stack creates no Pod Identity association: the runner's only way in is its web identity.
    const irsa = config.runnerCredentials === 'irsa';
    const agent = new PodIdentityAgent(o.podIdentity === false || !runnerRole || irsa ? [] : [{ ...sa, roleArn: runnerRole, credentials: iam.credentialsFor(runnerRole) }]);
    await agent.start();
    stops.push(() => agent.stop());
    // The cluster's OIDC issuer and STS: the issuer the stack's trust policy names (or the local one).
    const webIdentity = await WebIdentity.create({ iam, issuer: String(config.oidcIssuer ?? LOCAL_OIDC_ISSUER), now: () => clock.now() });
    await webIdentity.start();
    stops.push(() => webIdentity.stop());
    const targetNamespace = String(config.targetNamespace ?? STACK_DEFAULTS.targetNamespace);
    const rbacMode = (config.workflowKubernetesAccess ?? STACK_DEFAULTS.workflowKubernetesAccess) === 'rbac';
    const cluster = new LocalCluster(
      {
        namespaces: [...new Set(['default', targetNamespace, sa.namespace])],
        // The benchmark namespace enforces the strictest Pod Security level: the stack's pods must pass it.
        namespaceLabels: { [sa.namespace]: { [ENFORCE_LABEL]: 'restricted' } },
        pods: [targetPod(targetNamespace, String(config.targetPodSelector ?? STACK_DEFAULTS.targetPodSelector), simulator ? `inference-baseline/simulator:${simulator.options.version}` : 'external-target', podIpOf(targetAddress.hostname))],
        // The state machine role is who its access entry says, with the rights the entry grants; nothing else.
        access: accessEntryOf(synth, synth.iam.principals.workflow),
        rbac: rbacMode && o.rbacApplied !== false ? appliedRbac(renderWorkflowRbac(sa.namespace, targetNamespace)) : { roles: [], bindings: [] },
      },
      {
        sandboxRoot: join(root, 'pods'),
        agent,
        webIdentity,
        clock,
        onLog: o.onPodLog ?? (() => undefined),
        // What a pod needs to reach this machine's services instead of AWS's, and nothing else.
        extraEnv: { AWS_ENDPOINT_URL_S3: s3.endpoint, AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      },
    );
    stops.push(() => cluster.shutdown());
    // With clusterAccess vpc, the cluster's private endpoint: HTTPS with its own CA and EKS tokens.
    const tokenRefusals: string[] = [];
    const api =
      config.clusterAccess === 'vpc'
        ? await startKubernetesApi({
            cluster,
            clusterName: LOCAL_CLUSTER,
            region: LOCAL_REGION,
            now: () => clock.now(),
            credentialsOf: (key) => iam.principalOf(key)?.credentials,
            accessOf: (key) => {
              const principal = iam.principalOf(key);
              return principal ? accessEntryOf(synth, principal.roleArn) : null;
            },
            onRefusal: (reason) => tokenRefusals.push(reason),
          })
        : undefined;
    if (api) stops.push(() => api.stop());
    const clusterInfo: ClusterInfo = {
      oidcIssuer: webIdentity.issuerUrl,
      name: LOCAL_CLUSTER,
      status: 'ACTIVE',
      // eks:call is bound in-process: without the HTTPS API, the endpoint and CA are only passed along.
      endpoint: api?.endpoint ?? 'https://kubernetes.local',
      certificateAuthority: api?.certificateAuthority ?? Buffer.from('local stand-in: no TLS').toString('base64'),
      // The public endpoint is open to all (what eks:call needs); a private one is there too.
      endpointPublicAccess: true,
      endpointPrivateAccess: true,
      publicAccessCidrs: ['0.0.0.0/0'],
      authenticationMode: 'API',
      version: 'local',
    };
    return { synth, iam, s3, s3Client, clusterInfo, webIdentity, tokenRefusals, s3ClientAs: (roleArn) => clientWith(iam.credentialsFor(roleArn)), cluster, ...(simulator ? { simulator } : {}), targetUrl, bundle, config, zone: LOCAL_ZONE, clock, root, stop };
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

/** The runner bundle uploaded where the stack's defaults say its asset is (the key names the asset, the sha256 this build). */
async function uploadRunnerBundle(s3: S3Client, file: string, at: { bucket: string; key: string }): Promise<{ bucket: string; key: string; sha256: string }> {
  const body = await readFile(file);
  const sha256 = createHash('sha256').update(body).digest('hex');
  await s3.send(new PutObjectCommand({ Bucket: at.bucket, Key: at.key, Body: body }));
  return { ...at, sha256 };
}

/** A role's access entry in the template (null: it has none, and EKS would answer 401). */
function accessEntryOf(synth: SynthesizedWorkflow, roleArn: string): AccessEntry | null {
  const entry = synth.accessEntries.find((e) => e.principalArn === roleArn);
  if (!entry) return null;
  const name = roleArn.split('/').pop()!;
  return { username: `arn:aws:sts::${LOCAL_ENV.account}:assumed-role/${name}/{{SessionName}}`, accessPolicies: entry.accessPolicies, kubernetesGroups: entry.kubernetesGroups };
}

/** The Running inference pod the workflow looks for (its labels are the stack's target selector). */
function targetPod(namespace: string, selector: string, image: string, podIP: string): KubeObject {
  const sel = parseLabelSelector(selector);
  const labels = 'labels' in sel ? sel.labels : {};
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `target-${labelSelectorText(labels).replace(/[^a-z0-9]+/gi, '-').toLowerCase().slice(0, 40)}`, namespace, uid: 'target', labels },
    spec: { nodeName: 'local-node', containers: [{ name: 'server', image }] },
    status: { phase: 'Running', hostIP: '127.0.0.1', podIP },
  };
}

/** The target's host as a pod IP: an IP literal as it is, a name (localhost) as loopback. */
function podIpOf(hostname: string): string {
  const bare = hostname.replace(/^\[|\]$/g, '');
  return isIP(bare) ? bare : '127.0.0.1';
}
