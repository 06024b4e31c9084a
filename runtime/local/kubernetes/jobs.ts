import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runnableImage, startContainer, terminationMessage, type ContainerSpec, type StartedContainer, type VolumeSpec } from './container.ts';
import type { CloudClock } from '../clock.ts';
import type { KubeObject } from './objects.ts';
import type { PodIdentityAgent } from './pod-identity.ts';
import type { WebIdentity } from './web-identity.ts';
import { IRSA_ROLE_ANNOTATION } from '../../core/run-spec/stack-defaults.ts';

/**
 * The Job controller and kubelet of the stand-in: an Indexed Job's pods run one per completion
 * index, wait for their ConfigMap volumes to exist (as the kubelet does), and end the Job as
 * Kubernetes does — Complete when every index succeeded; Failed with BackoffLimitExceeded at the
 * first failed pod (backoffLimit 0, the others are stopped) or DeadlineExceeded at
 * activeDeadlineSeconds (SIGTERM, then SIGKILL after terminationGracePeriodSeconds). As the
 * scheduler does, a pod that asks for more CPU than the one node can allocate stays Pending with
 * PodScheduled False / Unschedulable and the scheduler's message, and never runs. Deadlines, image
 * pulls and the times it reports read the cloud's clock (clock.ts); the containers run in real time.
 * A pod gets AWS credentials as EKS gives them: its ServiceAccount's Pod Identity association
 * (the agent), its IRSA role annotation (the webhook's web identity), or both — then the SDK's
 * default chain picks, and it reads the web identity before container credentials.
 */

export interface PodHost {
  sandboxRoot: string;
  configMap(namespace: string, name: string): Record<string, string> | undefined;
  agent: PodIdentityAgent;
  /** IRSA's OIDC issuer and STS (web-identity.ts); absent: a cluster without the pod identity webhook. */
  webIdentity?: Pick<WebIdentity, 'envFor'>;
  /** The annotations of a ServiceAccount the cluster holds (undefined: none of that name). */
  serviceAccountAnnotations?(namespace: string, name: string): Record<string, string> | undefined;
  extraEnv: Record<string, string>;
  onLog(pod: string, line: string): void;
  clock: CloudClock;
  /** The node's allocatable CPU (cores), read when a pod is scheduled. */
  allocatableCpu(): number;
  /** How long a scheduled pod's image takes to pull (Pending, its container waiting in ContainerCreating). */
  imagePullMs(): number;
  /** Admission of a pod the controller creates: null, or the API server's refusal. */
  admit(pod: KubeObject & { spec: unknown }): string | null;
  recordEvent(e: { involvedObject: { kind: string; name: string; namespace: string; uid: string }; reason: string; message: string; type: 'Normal' | 'Warning' }): void;
}

interface PodRun {
  pod: KubeObject & { status: Record<string, unknown> };
  container?: StartedContainer;
  logs: string[];
  /** Something real is under way for it: waiting for its ConfigMap, its container starting or running (not a pull, not a wait for a node). */
  live: boolean;
}

export class JobRun {
  readonly pods: PodRun[] = [];
  private readonly startedAt: number;
  private cancelDeadline: (() => void) | undefined;
  private finished: 'Complete' | 'Failed' | undefined;
  private failure: { reason: string; message: string } | undefined;
  private stopped = false;

  constructor(
    readonly job: KubeObject & { spec: Record<string, unknown> },
    private readonly host: PodHost,
  ) {
    this.startedAt = host.clock.now();
    const spec = job.spec as { completions?: number; parallelism?: number; activeDeadlineSeconds?: number; template: { metadata?: { labels?: Record<string, string> }; spec: Record<string, unknown> } };
    const n = spec.completions ?? 1;
    for (let i = 0; i < n; i++) {
      const pod = this.podObject(i, spec.template);
      // A pod admission refuses is never created: the controller says why on the Job, and tries again later.
      const refused = host.admit(pod);
      if (refused) {
        const j = job.metadata;
        host.recordEvent({ involvedObject: { kind: 'Job', name: j.name, namespace: j.namespace!, uid: j.uid! }, reason: 'FailedCreate', message: `Error creating: ${refused}`, type: 'Warning' });
        continue;
      }
      this.pods.push({ pod, logs: [], live: false });
    }
    if (spec.activeDeadlineSeconds) this.cancelDeadline = host.clock.after(spec.activeDeadlineSeconds * 1000, () => this.fail('DeadlineExceeded', 'Job was active longer than specified deadline'));
    for (const p of this.pods) void this.runPod(p);
  }

  /** Whether a pod of this Job is starting or running a real process (virtual time cannot skip it). */
  busy(): boolean {
    return this.pods.some((p) => p.live);
  }

  /** The Job's `status`, as GET returns it. */
  status(): Record<string, unknown> {
    const phases = this.pods.map((p) => p.pod.status.phase);
    const succeeded = phases.filter((x) => x === 'Succeeded').length;
    const failed = phases.filter((x) => x === 'Failed').length;
    const active = phases.filter((x) => x === 'Pending' || x === 'Running').length;
    const iso = (t: number): string => new Date(t).toISOString();
    // `ready` is always reported (0 included), as since JobReadyPods; `active` only when non-zero.
    const out: Record<string, unknown> = { startTime: iso(this.startedAt), ...(active ? { active } : {}), ready: phases.filter((x) => x === 'Running').length };
    if (succeeded) {
      out.succeeded = succeeded;
      out.completedIndexes = this.pods.filter((p) => p.pod.status.phase === 'Succeeded').map((p) => p.pod.metadata.labels!['batch.kubernetes.io/job-completion-index']).join(',');
    }
    if (failed) out.failed = failed;
    if (this.finished === 'Complete') out.conditions = [{ type: 'Complete', status: 'True', lastTransitionTime: iso(this.host.clock.now()) }];
    if (this.finished === 'Failed') out.conditions = [{ type: 'Failed', status: 'True', reason: this.failure!.reason, message: this.failure!.message }];
    return out;
  }

  /** Deleting the Job with propagation (Background/Foreground) stops its pods; orphaned pods keep running. */
  async stop(gracePeriodSeconds = this.grace()): Promise<void> {
    this.stopped = true;
    this.cancelDeadline?.();
    await Promise.all(this.pods.map((p) => terminate(p, gracePeriodSeconds)));
  }

  /** A crash from outside (tests: the OOM killer, a node failure): the pod's process gets `signal`. */
  kill(index: number, signal: NodeJS.Signals): void {
    this.pods[index]?.container?.process.kill(signal);
  }

  private grace(): number {
    return ((this.job.spec as { template: { spec: { terminationGracePeriodSeconds?: number } } }).template.spec.terminationGracePeriodSeconds ?? 30);
  }

  private podObject(index: number, template: { metadata?: { labels?: Record<string, string> }; spec: Record<string, unknown> }): PodRun['pod'] & { spec: Record<string, unknown> } {
    const jobName = this.job.metadata.name;
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${jobName}-${index}-${randomBytes(3).toString('hex').slice(0, 5)}`,
        namespace: this.job.metadata.namespace,
        uid: randomBytes(16).toString('hex'),
        labels: { ...(template.metadata?.labels ?? {}), 'batch.kubernetes.io/job-name': jobName, 'job-name': jobName, 'batch.kubernetes.io/job-completion-index': String(index) },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: jobName, uid: this.job.metadata.uid! }],
      },
      spec: { ...structuredClone(template.spec), nodeName: 'local-node' },
      status: { phase: 'Pending' },
    };
  }

  private async runPod(p: PodRun): Promise<void> {
    const spec = p.pod.spec as { serviceAccountName?: string; containers: ContainerSpec[]; volumes?: VolumeSpec[]; nodeName?: string };
    const c = spec.containers[0]!;
    const ns = this.job.metadata.namespace!;
    const wanted = spec.containers.reduce((sum, x) => sum + cpuCores(x), 0);
    if (wanted > this.host.allocatableCpu()) {
      delete spec.nodeName;
      p.pod.status = {
        phase: 'Pending',
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: '0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.',
            lastProbeTime: null,
            lastTransitionTime: new Date(this.host.clock.now()).toISOString(),
          },
        ],
        qosClass: 'Guaranteed',
      };
      return;
    }
    const pull = this.host.imagePullMs();
    if (pull > 0) {
      p.pod.status = {
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: new Date(this.host.clock.now()).toISOString() }],
        containerStatuses: [{ name: c.name, image: c.image, ready: false, state: { waiting: { reason: 'ContainerCreating' } } }],
        qosClass: 'Guaranteed',
      };
      await this.host.clock.sleep(pull);
      if (this.stopped || this.finished) return;
    }
    // From here on the pod waits only on real things (its ConfigMap, its process): the cloud's clock waits too.
    p.live = true;
    if (!runnableImage(c.image)) {
      return this.terminated(p, 1, `the local Kubernetes stand-in runs only stock Node images; ${c.image} cannot run on this machine (run it on EKS)`);
    }
    // The kubelet does not start a pod until its ConfigMap volumes exist.
    const needs = (spec.volumes ?? []).flatMap((v) => (v.configMap ? [v.configMap.name] : []));
    while (!this.stopped && !this.finished && needs.some((name) => this.host.configMap(ns, name) === undefined)) await sleep(100);
    if (this.stopped || this.finished) {
      p.live = false;
      return;
    }
    const sandbox = join(this.host.sandboxRoot, p.pod.metadata.name);
    await mkdir(sandbox, { recursive: true });
    const credentials = await this.credentialEnv(ns, spec.serviceAccountName ?? 'default', sandbox);
    const index = p.pod.metadata.labels!['batch.kubernetes.io/job-completion-index']!;
    try {
      p.container = await startContainer(c, spec.volumes ?? [], { JOB_COMPLETION_INDEX: index, ...credentials }, {
        sandbox,
        configMap: (name) => this.host.configMap(ns, name),
        extraEnv: this.host.extraEnv,
        onLog: (line) => {
          p.logs.push(line);
          if (p.logs.length > 200) p.logs.splice(0, p.logs.length - 200);
          this.host.onLog(p.pod.metadata.name, line);
        },
      });
    } catch (err) {
      return this.terminated(p, 128, (err as Error).message);
    }
    p.pod.status = { phase: 'Running', hostIP: '127.0.0.1', containerStatuses: [{ name: c.name, image: c.image, ready: true, state: { running: { startedAt: new Date(this.host.clock.now()).toISOString() } } }] };
    const code = await p.container.exited;
    this.terminated(p, code, terminationMessage(p.logs));
  }

  /**
   * What EKS's two webhooks add to a pod of this ServiceAccount, their tokens written into its
   * sandbox: Pod Identity's container-credentials variables when the ServiceAccount has an
   * association, IRSA's web identity when it carries the role annotation. With both, both are
   * there, as on EKS; the SDK's chain (fromTokenFile before the container provider) takes IRSA's.
   */
  private async credentialEnv(ns: string, serviceAccount: string, sandbox: string): Promise<Record<string, string>> {
    const env: Record<string, string> = {};
    const podIdentityToken = join(sandbox, 'eks-pod-identity-token');
    const identity = this.host.agent.envFor(ns, serviceAccount, podIdentityToken);
    if (identity) {
      await writeFile(podIdentityToken, identity.token);
      Object.assign(env, identity.env);
    }
    const roleArn = this.host.serviceAccountAnnotations?.(ns, serviceAccount)?.[IRSA_ROLE_ANNOTATION];
    if (roleArn && this.host.webIdentity) {
      // EKS mounts it at /var/run/secrets/eks.amazonaws.com/serviceaccount/token; here, the same tail in the sandbox.
      const dir = join(sandbox, 'eks.amazonaws.com', 'serviceaccount');
      await mkdir(dir, { recursive: true });
      const web = await this.host.webIdentity.envFor(ns, serviceAccount, roleArn, join(dir, 'token'));
      await writeFile(join(dir, 'token'), web.token);
      Object.assign(env, web.env);
    }
    return env;
  }

  private terminated(p: PodRun, exitCode: number, message: string): void {
    p.live = false;
    const c = (p.pod.spec as { containers: ContainerSpec[] }).containers[0]!;
    const failed = exitCode !== 0;
    p.pod.status = {
      phase: failed ? 'Failed' : 'Succeeded',
      hostIP: '127.0.0.1',
      containerStatuses: [{ name: c.name, image: c.image, ready: false, state: { terminated: { exitCode, reason: failed ? 'Error' : 'Completed', ...(failed && message ? { message } : {}) } } }],
    };
    if (this.finished) return;
    if (failed) this.fail('BackoffLimitExceeded', 'Job has reached the specified backoff limit');
    else if (this.pods.every((x) => x.pod.status.phase === 'Succeeded')) {
      this.finished = 'Complete';
      this.cancelDeadline?.();
    }
  }

  private fail(reason: string, message: string): void {
    if (this.finished) return;
    this.finished = 'Failed';
    this.failure = { reason, message };
    this.cancelDeadline?.();
    for (const p of this.pods) if (p.pod.status.phase === 'Pending' && !p.container) p.pod.status = { phase: 'Failed', reason };
    void Promise.all(this.pods.filter((p) => p.pod.status.phase === 'Running').map((p) => terminate(p, this.grace())));
  }
}

/** A container's CPU request in cores ("4", "500m"); the limit when no request is set, as Kubernetes defaults it. */
function cpuCores(c: ContainerSpec): number {
  const r = (c as { resources?: { requests?: { cpu?: string }; limits?: { cpu?: string } } }).resources;
  const q = r?.requests?.cpu ?? r?.limits?.cpu;
  if (q === undefined) return 0;
  return q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q);
}

/** SIGTERM, then SIGKILL after the grace period, as the kubelet stops a container. */
async function terminate(p: PodRun, graceSeconds: number): Promise<void> {
  const c = p.container;
  if (!c || c.process.exitCode !== null || c.process.signalCode !== null) return;
  c.process.kill('SIGTERM');
  const killer = setTimeout(() => c.process.kill('SIGKILL'), graceSeconds * 1000);
  await c.exited;
  clearTimeout(killer);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
