import { randomBytes } from 'node:crypto';
import type { EksCallInput, EksCallOutput } from '../../aws/kubernetes-api.ts';
import { authorizeCall, type AccessEntry, type AppliedRbac } from './access.ts';
import { JobRun, type PodHost } from './jobs.ts';
import { alreadyExists, invalid, KubernetesApiError, list, matchesFields, matchesLabels, notFound, type KubeObject } from './objects.ts';
import { ENFORCE_LABEL, podSecurityRefusal, podSecurityViolations, type PodSecurityLevel, type PodSpec } from './pod-security.ts';

/**
 * A local Kubernetes API behind the workflow's `eks:call` tasks: it keeps the objects it is given,
 * runs created Jobs (jobs.ts), and answers with the status codes and `Status` bodies the API uses
 * (404 NotFound, 409 AlreadyExists, 422 Invalid; errors named `EKS.<status>` as the integration
 * names them). Only what the workflow calls exists: pods (list), serviceaccounts, configmaps
 * (create, list, delete), jobs (create, get, delete, delete by selector) and events (list). Deleting
 * a Job over REST orphans its pods unless `propagationPolicy` says otherwise, as in Kubernetes; with
 * Background or Foreground its pods stop and its dependents (ownerReferences) are collected.
 *
 * As strict as EKS in saying no: every call is authorized as the caller's access entry (access
 * policies with their namespace scopes, RBAC Roles bound to its groups: access.ts), and a pod the Job
 * controller creates passes admission — Pod Security at its namespace's enforce level
 * (pod-security.ts), and the namespace's CPU quota — or is not created, the controller recording a
 * FailedCreate event on the Job with the refusal, as Kubernetes does.
 */

/** The parameters of an `eks:call` Task, and its result (one definition: the VPC path's KubeCall takes the same). */
export type { EksCallInput, EksCallOutput } from '../../aws/kubernetes-api.ts';

export interface ClusterOptions {
  namespaces: string[];
  /** Namespace labels (`pod-security.kubernetes.io/enforce: restricted`), by namespace. */
  namespaceLabels?: Record<string, Record<string, string>>;
  /** Pods that already run (the inference server), by namespace. */
  pods?: KubeObject[];
  /**
   * The caller's access entry: every call is authorized as it; null: the caller has none, and EKS
   * answers every call 401 Unauthorized. Absent: every call is allowed (the stand-in's own tests).
   */
  access?: AccessEntry | null;
  /** RBAC Roles and RoleBindings applied in the cluster. */
  rbac?: AppliedRbac;
}

const PATH = /^\/(?:api\/v1|apis\/batch\/v1)\/namespaces\/([^/]+)\/(pods|serviceaccounts|configmaps|jobs|events)(?:\/([^/]+))?$/;

/** What a misconfigured cluster does, for tests of the workflow's failure paths (changeable between executions). */
export interface ClusterFaults {
  /** Namespaces that do not exist after all. */
  missingNamespaces?: string[];
  /** The inference server's pods are not Running. */
  noTargetPods?: boolean;
  /** The one node's allocatable CPU in cores (default: 7.91, an 8-vCPU node after the kubelet's and the system's reservations). */
  allocatableCpu?: number;
  /** Scheduled pods take this long to pull their image (Pending, ContainerCreating); default 0. */
  imagePullMs?: number;
  /** A ResourceQuota on requests.cpu (cores) in these namespaces: pods beyond it are refused at admission. */
  cpuQuota?: Record<string, number>;
  /**
   * Every failed call is named this instead of `EKS.<status>` (its Cause still carries the Status
   * body): the workflow must classify what AWS does not document by what the API server said.
   */
  errorName?: string;
}

const DEFAULT_ALLOCATABLE_CPU = 7.91;

export class LocalCluster {
  faults: ClusterFaults = {};
  /** Who the caller is in the cluster and what it may do (tests change them between executions, as an admin would). */
  access: AccessEntry | null | undefined;
  rbac: AppliedRbac;
  private readonly objects = new Map<string, KubeObject>();
  private readonly jobs = new Map<string, JobRun>();
  /** Runs of Jobs deleted without propagation: their pods live on, as in Kubernetes. */
  private readonly orphans: JobRun[] = [];
  /** Events by namespace (the Job controller's FailedCreate). */
  private readonly events: KubeObject[] = [];
  readonly calls: Array<{ method: string; path: string; status: number }> = [];

  constructor(
    private readonly o: ClusterOptions,
    private readonly host: Omit<PodHost, 'configMap' | 'allocatableCpu' | 'imagePullMs' | 'admit' | 'recordEvent' | 'serviceAccountAnnotations'>,
  ) {
    for (const p of o.pods ?? []) this.objects.set(key(p.metadata.namespace!, 'pods', p.metadata.name), p);
    this.access = o.access;
    this.rbac = o.rbac ?? { roles: [], bindings: [] };
  }

  /** The `eks:call` handler: the caller is the state machine role (its access entry: `access`). */
  call = (input: EksCallInput): Promise<EksCallOutput> => this.callAs(input, this.access);

  /**
   * A call as the given access entry (the HTTPS API: the principal its bearer token proved);
   * null: a principal without an access entry, answered 401 as EKS does.
   */
  callAs = async (input: EksCallInput, access: AccessEntry | null | undefined): Promise<EksCallOutput> => {
    try {
      const out = await this.dispatch(input, access);
      this.calls.push({ method: input.Method, path: input.Path, status: out.StatusCode });
      return out;
    } catch (err) {
      if (err instanceof KubernetesApiError) {
        this.calls.push({ method: input.Method, path: input.Path, status: err.status });
        if (this.faults.errorName) err.name = this.faults.errorName;
      }
      throw err;
    }
  };

  /** The role of the ServiceAccount's EKS Pod Identity association, or null (DescribePodIdentityAssociation's view). */
  podIdentityRole(namespace: string, serviceAccount: string): string | null {
    return this.host.agent.roleOf(namespace, serviceAccount);
  }

  /** Whether a pod is starting or running a real process: the cloud's virtual time waits for it (clock.ts). */
  busy(): boolean {
    return this.jobRuns().some((j) => j.busy());
  }

  /** Every Job run that still has pods (tests and the local workflow look at their pods and logs). */
  jobRuns(): JobRun[] {
    return [...this.jobs.values(), ...this.orphans];
  }

  /** Objects that exist now, by kind (for "nothing was created" and "nothing was left"). */
  existing(kind: 'serviceaccounts' | 'configmaps' | 'jobs'): KubeObject[] {
    return [...this.objects.entries()].filter(([k]) => k.split('/')[1] === kind).map(([, v]) => v);
  }

  /** Stops every pod (the local workflow's end, or a test's). */
  async shutdown(): Promise<void> {
    await Promise.all(this.jobRuns().map((j) => j.stop(0)));
  }

  private async dispatch(input: EksCallInput, access: AccessEntry | null | undefined): Promise<EksCallOutput> {
    const m = PATH.exec(input.Path);
    if (!m) throw new KubernetesApiError(404, 'NotFound', `the server could not find the requested resource (${input.Path})`);
    const [, ns, kind, name] = m as unknown as [string, string, string, string | undefined];
    const q = (k: string): string | undefined => input.QueryParameters?.[k]?.[0];
    if (access === null) throw new KubernetesApiError(401, 'Unauthorized', 'Unauthorized');
    if (access) {
      const verb = input.Method === 'GET' ? (name ? 'get' : 'list') : input.Method === 'POST' ? 'create' : input.Method === 'DELETE' ? (name ? 'delete' : 'deletecollection') : input.Method.toLowerCase();
      authorizeCall(access, this.rbac, { verb, apiGroup: kind === 'jobs' ? 'batch' : '', resource: kind, namespace: ns });
    }
    const nsExists = this.o.namespaces.includes(ns) && !(this.faults.missingNamespaces ?? []).includes(ns);
    const resource = kind === 'jobs' ? 'jobs.batch' : kind;

    if (input.Method === 'GET' && !name) {
      // Listing a namespace that does not exist answers an empty list, as the API does.
      let items = [...this.objects.entries()].filter(([k]) => k.startsWith(`${ns}/${kind}/`) && !(this.faults.noTargetPods && kind === 'pods')).map(([, v]) => this.withStatus(kind, v));
      if (kind === 'pods') items.push(...this.jobPods().filter((p) => p.metadata.namespace === ns));
      if (kind === 'events') items = this.events.filter((e) => e.metadata.namespace === ns);
      items = items.filter((o) => matchesLabels(o, q('labelSelector')) && matchesFields(o, q('fieldSelector')));
      if (q('limit')) items = items.slice(0, Number(q('limit')));
      return ok(list(kindName(kind), items));
    }
    if (!nsExists) throw notFound('namespaces', ns);

    if (input.Method === 'POST' && !name) {
      const body = structuredClone(input.RequestBody ?? {}) as KubeObject;
      const objName = body.metadata?.name;
      if (!objName) throw invalid(kindName(kind), '', ['metadata.name: Required value: name or generateName is required']);
      const k = key(ns, kind, objName);
      if (this.objects.has(k)) throw alreadyExists(resource, objName);
      body.metadata = { ...body.metadata, namespace: ns, uid: randomBytes(16).toString('hex'), creationTimestamp: new Date(this.host.clock.now()).toISOString() };
      if (kind === 'jobs') {
        const containers = ((body.spec as { template?: { spec?: { containers?: unknown[] } } } | undefined)?.template?.spec?.containers ?? []) as unknown[];
        if (containers.length === 0) throw invalid('Job', objName, ['spec.template.spec.containers: Required value']);
        this.objects.set(k, body);
        this.jobs.set(
          k,
          new JobRun(body as KubeObject & { spec: Record<string, unknown> }, {
            ...this.host,
            configMap: (n, cm) => this.configMapData(n, cm),
            allocatableCpu: () => this.faults.allocatableCpu ?? DEFAULT_ALLOCATABLE_CPU,
            imagePullMs: () => this.faults.imagePullMs ?? 0,
            admit: (pod) => this.admit(pod),
            recordEvent: (e) => this.recordEvent(e),
            // What EKS's pod identity webhook reads: the ServiceAccount's IRSA role annotation.
            serviceAccountAnnotations: (n, sa) => this.objects.get(key(n, 'serviceaccounts', sa))?.metadata.annotations as Record<string, string> | undefined,
          }),
        );
      } else this.objects.set(k, body);
      return ok(this.withStatus(kind, body), 201);
    }
    if (input.Method === 'GET' && name) {
      const obj = this.objects.get(key(ns, kind, name));
      if (!obj) throw notFound(resource, name);
      return ok(this.withStatus(kind, obj));
    }
    if (input.Method === 'DELETE') {
      const policy = q('propagationPolicy') ?? (kind === 'jobs' ? 'Orphan' : 'Background');
      const targets = name ? [key(ns, kind, name)] : [...this.objects.entries()].filter(([k, o]) => k.startsWith(`${ns}/${kind}/`) && matchesLabels(o, q('labelSelector'))).map(([k]) => k);
      if (name && !this.objects.has(targets[0]!)) throw notFound(resource, name);
      for (const k of targets) await this.delete(k, policy);
      return ok({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, kind: resource } });
    }
    throw new KubernetesApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource (${input.Method} ${input.Path})`);
  }

  /** Admission of a pod the Job controller creates: Pod Security at the namespace's level, then its CPU quota. */
  private admit(pod: KubeObject & { spec: unknown }): string | null {
    const ns = pod.metadata.namespace!;
    const level = (this.o.namespaceLabels?.[ns]?.[ENFORCE_LABEL] ?? 'privileged') as PodSecurityLevel;
    const violations = podSecurityViolations(pod.spec as PodSpec, level);
    if (violations.length > 0) return podSecurityRefusal(pod.metadata.name, level, violations);
    const quota = this.faults.cpuQuota?.[ns];
    if (quota !== undefined) {
      const requested = ((pod.spec as { containers: Array<{ resources?: { requests?: { cpu?: string } } }> }).containers ?? []).reduce((sum, c) => sum + cores(c.resources?.requests?.cpu), 0);
      if (requested > quota) return `pods "${pod.metadata.name}" is forbidden: exceeded quota: compute, requested: requests.cpu=${requested}, used: requests.cpu=0, limited: requests.cpu=${quota}`;
    }
    return null;
  }

  /** An event, as `kubectl get events` lists it; a repeat of the same reason and message counts up. */
  private recordEvent(e: { involvedObject: { kind: string; name: string; namespace: string; uid: string }; reason: string; message: string; type: 'Normal' | 'Warning' }): void {
    const same = this.events.find((x) => (x.involvedObject as { uid: string }).uid === e.involvedObject.uid && x.reason === e.reason && x.message === e.message);
    const now = new Date(this.host.clock.now()).toISOString();
    if (same) {
      same.count = Number(same.count) + 1;
      same.lastTimestamp = now;
      return;
    }
    this.events.push({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${e.involvedObject.name}.${randomBytes(8).toString('hex')}`, namespace: e.involvedObject.namespace },
      involvedObject: { apiVersion: 'batch/v1', ...e.involvedObject },
      reason: e.reason,
      message: e.message,
      type: e.type,
      source: { component: 'job-controller' },
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
    });
  }

  private async delete(k: string, policy: string): Promise<void> {
    const obj = this.objects.get(k);
    this.objects.delete(k);
    const run = this.jobs.get(k);
    this.jobs.delete(k);
    if (run && policy === 'Orphan') this.orphans.push(run);
    else if (run) await run.stop();
    // Garbage collection: dependents whose ownerReferences name the deleted object.
    if (obj && policy !== 'Orphan') {
      for (const [dk, dep] of [...this.objects.entries()]) if (dep.metadata.ownerReferences?.some((r) => r.uid === obj.metadata.uid)) this.objects.delete(dk);
    }
  }

  private withStatus(kind: string, obj: KubeObject): KubeObject {
    if (kind !== 'jobs') return obj;
    const run = this.jobs.get(key(obj.metadata.namespace!, 'jobs', obj.metadata.name));
    return run ? { ...obj, status: run.status() } : obj;
  }

  private configMapData(ns: string, name: string): Record<string, string> | undefined {
    return (this.objects.get(key(ns, 'configmaps', name)) as { data?: Record<string, string> } | undefined)?.data;
  }

  /** Pods of the Jobs that exist and of orphaned ones (the workflow reads a failed runner pod's termination message). */
  private jobPods(): KubeObject[] {
    return [...this.jobs.values(), ...this.orphans].flatMap((j) => j.pods.map((p) => p.pod));
  }
}

function key(ns: string, kind: string, name: string): string {
  return `${ns}/${kind}/${name}`;
}

function kindName(kind: string): string {
  return ({ pods: 'Pod', serviceaccounts: 'ServiceAccount', configmaps: 'ConfigMap', jobs: 'Job', events: 'Event' } as Record<string, string>)[kind] ?? kind;
}

/** A CPU quantity in cores ("4", "500m"). */
function cores(q: string | undefined): number {
  if (q === undefined) return 0;
  return q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q);
}

function ok(body: unknown, status = 200): EksCallOutput {
  return { ResponseBody: body, StatusCode: status, StatusText: status === 201 ? 'Created' : 'OK' };
}
