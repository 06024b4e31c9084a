/**
 * An emulated Kubernetes API behind `eks:call`: receives the Task's effective input (ClusterName,
 * Endpoint, CertificateAuthority, Method, Path, QueryParameters, RequestBody) and answers like the
 * integration does — `{ResponseBody, StatusCode, StatusText}`, or an error named `EKS.<status>`.
 */

export interface EksCallInput {
  ClusterName: string;
  Endpoint: string;
  CertificateAuthority: string;
  Method: string;
  Path: string;
  QueryParameters?: Record<string, string[]>;
  RequestBody?: Record<string, unknown>;
}

export type JobOutcome = 'succeeds' | 'fails' | 'deadline' | 'never';

export interface FakeClusterOptions {
  /** Running pods of the target (namespace → pods). */
  pods?: Record<string, Array<Record<string, unknown>>>;
  namespaces?: string[];
  /** Every call answers 403 (no access entry / wrong scope). */
  deny?: boolean;
  jobOutcome?: JobOutcome;
  /** GETs of the Job that still report it active before the outcome shows. */
  activePolls?: number;
  /** The failed runner pod's termination message (FallbackToLogsOnError). */
  failureLog?: string;
  serviceAccountExists?: boolean;
}

export class KubernetesError extends Error {
  constructor(status: number, reason: string, message: string) {
    super(JSON.stringify({ kind: 'Status', status: 'Failure', reason, code: status, message }));
    this.name = `EKS.${status}`;
  }
}

export class FakeKubernetes {
  readonly calls: Array<{ method: string; path: string; query?: Record<string, string[]>; body?: Record<string, unknown> }> = [];
  readonly objects = new Map<string, Record<string, unknown>>();
  private jobGets = 0;

  constructor(private readonly opts: FakeClusterOptions = {}) {
    if (opts.serviceAccountExists) this.objects.set('/api/v1/namespaces/benchmarking/serviceaccounts/inference-baseline-runner', {});
  }

  private ok(body: unknown, status = 200) {
    return { ResponseBody: body, StatusCode: status, StatusText: status === 201 ? 'Created' : 'OK' };
  }

  call = (input: EksCallInput) => {
    this.calls.push({ method: input.Method, path: input.Path, query: input.QueryParameters, body: input.RequestBody });
    if (!input.Endpoint?.startsWith('https://') || !input.CertificateAuthority) throw new KubernetesError(500, 'BadRequest', 'no endpoint');
    if (this.opts.deny) throw new KubernetesError(403, 'Forbidden', `User "arn:aws:sts::111111111111:assumed-role/sm" cannot ${input.Method} ${input.Path}`);
    const namespaces = this.opts.namespaces ?? ['default', 'benchmarking'];
    const m = /^\/apis?\/(?:v1|batch\/v1)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/.exec(input.Path);
    if (!m) throw new KubernetesError(404, 'NotFound', `no route ${input.Path}`);
    const [, ns, kind, name] = m as unknown as [string, string, string, string | undefined];
    const nsExists = namespaces.includes(ns);

    if (input.Method === 'GET' && kind === 'pods' && !name) {
      const selector = input.QueryParameters?.labelSelector?.[0] ?? '';
      const phase = input.QueryParameters?.fieldSelector?.[0];
      if (selector.startsWith('batch.kubernetes.io/job-name=')) {
        const items = this.opts.failureLog
          ? [{ metadata: { name: 'runner-0' }, status: { phase: 'Failed', containerStatuses: [{ state: { terminated: { exitCode: 2, reason: 'Error', message: this.opts.failureLog } } }] } }]
          : [];
        return this.ok({ kind: 'PodList', items });
      }
      const items = (this.opts.pods?.[ns] ?? []).filter((p) => !phase || phase === `status.phase=${(p.status as { phase: string }).phase}`);
      return this.ok({ kind: 'PodList', items: items.slice(0, 1) });
    }
    if (!nsExists) throw new KubernetesError(404, 'NotFound', `namespaces "${ns}" not found`);

    if (input.Method === 'POST') {
      const body = input.RequestBody as { metadata: { name: string } };
      const k = `${input.Path}/${body.metadata.name}`;
      if (this.objects.has(k)) throw new KubernetesError(409, 'AlreadyExists', `${kind} "${body.metadata.name}" already exists`);
      this.objects.set(k, body);
      return this.ok(body, 201);
    }
    const k = `${input.Path}`;
    if (input.Method === 'DELETE') {
      if (!this.objects.has(k)) throw new KubernetesError(404, 'NotFound', `${kind} "${name}" not found`);
      this.objects.delete(k);
      return this.ok({ kind: 'Status', status: 'Success' });
    }
    if (input.Method === 'GET' && kind === 'jobs' && name) {
      const job = this.objects.get(k) as { spec: { completions: number } } | undefined;
      if (!job) throw new KubernetesError(404, 'NotFound', `jobs.batch "${name}" not found`);
      this.jobGets++;
      return this.ok({ ...job, status: this.jobStatus(job.spec.completions) });
    }
    throw new KubernetesError(405, 'MethodNotAllowed', `${input.Method} ${input.Path}`);
  };

  private jobStatus(completions: number): Record<string, unknown> {
    const start = { startTime: '2025-01-01T02:00:05Z' };
    if (this.jobGets <= (this.opts.activePolls ?? 1) || this.opts.jobOutcome === 'never') return { ...start, active: completions, ready: completions };
    switch (this.opts.jobOutcome ?? 'succeeds') {
      case 'succeeds':
        return {
          ...start,
          succeeded: completions,
          completedIndexes: '0',
          conditions: [{ type: 'Complete', status: 'True', lastTransitionTime: '2025-01-01T02:06:00Z' }],
        };
      case 'fails':
        return {
          ...start,
          failed: 1,
          failedIndexes: '0',
          conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }],
        };
      case 'deadline':
        return {
          ...start,
          failed: 1,
          conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' }],
        };
      default:
        return start;
    }
  }

  /** Paths of the calls made with this method. */
  paths(method: string): string[] {
    return this.calls.filter((c) => c.method === method).map((c) => c.path);
  }
}

/** A Running vLLM pod on a node with this host IP. */
export function targetPod(hostIP = '10.0.1.23'): Record<string, unknown> {
  return {
    metadata: { name: 'qwen3-vllm-7d9f', namespace: 'default', labels: { 'app.kubernetes.io/component': 'qwen3-vllm' } },
    status: { phase: 'Running', hostIP, podIP: '10.0.1.99' },
  };
}
