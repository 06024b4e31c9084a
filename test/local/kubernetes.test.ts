import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../runtime/local/clock.ts';
import { renderWorkflowRbac } from '../../runtime/core/manifests/rbac.ts';
import { appliedRbac } from '../../runtime/local/kubernetes/access.ts';
import { LocalCluster, type ClusterOptions, type EksCallInput } from '../../runtime/local/kubernetes/cluster.ts';
import { PodIdentityAgent } from '../../runtime/local/kubernetes/pod-identity.ts';
import { useTempDirs } from '../support/temp-dir.ts';

const tempDir = useTempDirs();
const agent = new PodIdentityAgent([{ namespace: 'bench', serviceAccount: 'runner', roleArn: 'arn:aws:iam::000000000000:role/runner', credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' } }]);
beforeAll(() => agent.start());
afterAll(() => agent.stop());

let cluster: LocalCluster;
/** The cluster's time: deadlines and image pulls pass when a test moves it, not on the wall clock. */
let clock: VirtualClock;
afterEach(async () => {
  await cluster?.shutdown();
});

async function newCluster(o: Partial<ClusterOptions> = {}): Promise<LocalCluster> {
  clock = new VirtualClock();
  cluster = new LocalCluster({ namespaces: ['default', 'bench'], ...o }, { sandboxRoot: await tempDir(), agent, extraEnv: {}, onLog: () => undefined, clock });
  return cluster;
}

const call = (method: EksCallInput['Method'], path: string, body?: Record<string, unknown>, query?: Record<string, string[]>): EksCallInput => ({
  ClusterName: 'local',
  Endpoint: 'https://kubernetes.local',
  CertificateAuthority: 'LS0t',
  Method: method,
  Path: path,
  ...(body ? { RequestBody: body } : {}),
  ...(query ? { QueryParameters: query } : {}),
});

function job(name: string, script: string, o: { completions?: number; deadline?: number; configMap?: string; serviceAccount?: string } = {}) {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: 'bench', labels: { run: name } },
    spec: {
      completionMode: 'Indexed',
      completions: o.completions ?? 1,
      parallelism: o.completions ?? 1,
      backoffLimit: 0,
      ...(o.deadline ? { activeDeadlineSeconds: o.deadline } : {}),
      template: {
        metadata: { labels: { run: name } },
        spec: {
          restartPolicy: 'Never',
          serviceAccountName: o.serviceAccount ?? 'runner',
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'main',
              image: 'public.ecr.aws/docker/library/node:22-slim',
              command: ['node', '-e', script, '--'],
              args: ['$(JOB_COMPLETION_INDEX)', '/etc/cfg/config.yml', '$(UNDEFINED)'],
              env: [{ name: 'GREETING', value: 'hello' }],
              volumeMounts: [{ name: 'cfg', mountPath: '/etc/cfg' }, { name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'cfg', configMap: { name: o.configMap ?? `${name}-cfg` } }, { name: 'tmp', emptyDir: {} }],
        },
      },
    },
  };
}

async function until<T>(fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const status = async (name: string) => ((await cluster.call(call('GET', `/apis/batch/v1/namespaces/bench/jobs/${name}`))).ResponseBody as { status: Record<string, unknown> }).status;
const finished = (name: string) => until(async () => {
  const s = await status(name);
  return Array.isArray(s.conditions) ? s : undefined;
});

describe('the local Kubernetes stand-in (runs Jobs as local processes)', () => {
  it('runs each index of an Indexed Job from its manifest: $(VAR) expansion, ConfigMap volume, emptyDir /tmp, Pod Identity env; Complete', async () => {
    await newCluster();
    const script = `const fs=require('fs');const [i,cfg,u]=process.argv.slice(1);console.log(JSON.stringify({i,cfg:fs.readFileSync(cfg,'utf8'),u,greet:process.env.GREETING,tmp:require('os').tmpdir().endsWith('/volumes/tmp'),creds:!!process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI}))`;
    await cluster.call(call('POST', '/apis/batch/v1/namespaces/bench/jobs', job('ok', script, { completions: 2 })));
    // The pods wait for their ConfigMap, as the kubelet does.
    await new Promise((r) => setTimeout(r, 300));
    expect((await status('ok')).active).toBe(2);
    await cluster.call(call('POST', '/api/v1/namespaces/bench/configmaps', { metadata: { name: 'ok-cfg' }, data: { 'config.yml': 'rate: 1\n' } }));
    const s = await finished('ok');
    expect(s).toMatchObject({ succeeded: 2, completedIndexes: '0,1', conditions: [{ type: 'Complete', status: 'True' }] });
    const logs = cluster.jobRuns()[0]!.pods.map((p) => JSON.parse(p.logs[0]!));
    expect(logs).toEqual([0, 1].map((i) => ({ i: String(i), cfg: 'rate: 1\n', u: '$(UNDEFINED)', greet: 'hello', tmp: true, creds: true })));
  });

  it('a failed pod fails the Job (backoffLimit 0) and keeps its last log lines as the termination message', async () => {
    await newCluster();
    await cluster.call(call('POST', '/api/v1/namespaces/bench/configmaps', { metadata: { name: 'bad-cfg' }, data: {} }));
    await cluster.call(call('POST', '/apis/batch/v1/namespaces/bench/jobs', job('bad', "console.error('error: --target: cannot reach http://127.0.0.1:9'); process.exit(2)")));
    const s = await finished('bad');
    expect(s).toMatchObject({ failed: 1, conditions: [{ type: 'Failed', reason: 'BackoffLimitExceeded' }] });
    const pods = (await cluster.call(call('GET', '/api/v1/namespaces/bench/pods', undefined, { labelSelector: ['batch.kubernetes.io/job-name=bad'], fieldSelector: ['status.phase=Failed'], limit: ['1'] }))).ResponseBody as { items: Array<{ status: { containerStatuses: Array<{ state: { terminated: { exitCode: number; message: string } } }> } }> };
    expect(pods.items[0]!.status.containerStatuses[0]!.state.terminated).toMatchObject({ exitCode: 2, message: 'error: --target: cannot reach http://127.0.0.1:9' });
  });

  it('stops pods at activeDeadlineSeconds on its clock (SIGTERM, then SIGKILL) and reports DeadlineExceeded', async () => {
    await newCluster();
    await cluster.call(call('POST', '/api/v1/namespaces/bench/configmaps', { metadata: { name: 'slow-cfg' }, data: {} }));
    await cluster.call(call('POST', '/apis/batch/v1/namespaces/bench/jobs', job('slow', "process.on('SIGTERM',()=>{console.log('got SIGTERM');process.exit(143)});console.log('up');setInterval(()=>{},1000)", { deadline: 600 })));
    await until(async () => (cluster.jobRuns()[0]!.pods[0]!.logs.includes('up') ? true : undefined));
    expect(cluster.busy()).toBe(true);
    clock.advance(599_000);
    expect(await status('slow')).toMatchObject({ active: 1, ready: 1 });
    clock.advance(1_000);
    const s = await finished('slow');
    expect(s).toMatchObject({ conditions: [{ type: 'Failed', reason: 'DeadlineExceeded' }] });
    await until(async () => (cluster.jobRuns()[0]!.pods[0]!.logs.includes('got SIGTERM') ? true : undefined));
    await until(async () => (cluster.busy() ? undefined : true));
  });

  it('pulls an image on its clock: the pod is Pending (ContainerCreating, nothing real running) until the clock passes the pull', async () => {
    await newCluster();
    cluster.faults = { imagePullMs: 60_000 };
    await cluster.call(call('POST', '/api/v1/namespaces/bench/configmaps', { metadata: { name: 'pull-cfg' }, data: {} }));
    await cluster.call(call('POST', '/apis/batch/v1/namespaces/bench/jobs', job('pull', "console.log('ran')")));
    await new Promise((r) => setTimeout(r, 50));
    expect(cluster.jobRuns()[0]!.pods[0]!.pod.status).toMatchObject({ phase: 'Pending', containerStatuses: [{ state: { waiting: { reason: 'ContainerCreating' } } }] });
    expect(cluster.busy()).toBe(false);
    clock.advance(60_000);
    expect(await finished('pull')).toMatchObject({ succeeded: 1 });
    expect(cluster.jobRuns()[0]!.pods[0]!.logs).toEqual(['ran']);
  });

  it('answers like the Kubernetes API: 409 for a second create, 404 for a missing namespace or object, empty lists', async () => {
    await newCluster();
    await cluster.call(call('POST', '/api/v1/namespaces/bench/serviceaccounts', { metadata: { name: 'runner' } }));
    await expect(cluster.call(call('POST', '/api/v1/namespaces/bench/serviceaccounts', { metadata: { name: 'runner' } }))).rejects.toMatchObject({ name: 'EKS.409', message: expect.stringContaining('"reason":"AlreadyExists"') });
    await expect(cluster.call(call('POST', '/api/v1/namespaces/missing/configmaps', { metadata: { name: 'x' } }))).rejects.toMatchObject({ name: 'EKS.404', message: expect.stringContaining('namespaces \\"missing\\" not found') });
    await expect(cluster.call(call('GET', '/apis/batch/v1/namespaces/bench/jobs/none'))).rejects.toMatchObject({ name: 'EKS.404' });
    const list = await cluster.call(call('GET', '/api/v1/namespaces/bench/serviceaccounts', undefined, { fieldSelector: ['metadata.name=runner'] }));
    expect((list.ResponseBody as { items: unknown[] }).items).toHaveLength(1);
    const none = await cluster.call(call('GET', '/api/v1/namespaces/missing/serviceaccounts'));
    expect((none.ResponseBody as { items: unknown[] }).items).toEqual([]);
  });

  it('deleting a Job with propagationPolicy=Background stops its pods and collects what it owns; without it the pods are orphaned', async () => {
    await newCluster();
    const created = await cluster.call(call('POST', '/apis/batch/v1/namespaces/bench/jobs', job('gc', 'setInterval(()=>{},1000)')));
    const uid = (created.ResponseBody as { metadata: { uid: string } }).metadata.uid;
    await cluster.call(call('POST', '/api/v1/namespaces/bench/configmaps', { metadata: { name: 'gc-cfg', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'gc', uid }] }, data: {} }));
    await until(async () => (cluster.jobRuns()[0]!.pods[0]!.pod.status.phase === 'Running' ? true : undefined));
    await cluster.call(call('DELETE', '/apis/batch/v1/namespaces/bench/jobs/gc', undefined, { propagationPolicy: ['Background'] }));
    expect(cluster.existing('configmaps')).toEqual([]);
    expect(cluster.jobRuns()).toEqual([]);
    await expect(cluster.call(call('DELETE', '/apis/batch/v1/namespaces/bench/jobs/gc'))).rejects.toMatchObject({ name: 'EKS.404' });

    await cluster.call(call('POST', '/api/v1/namespaces/bench/configmaps', { metadata: { name: 'orphan-cfg' }, data: {} }));
    await cluster.call(call('POST', '/apis/batch/v1/namespaces/bench/jobs', job('orphan', 'setInterval(()=>{},1000)')));
    await until(async () => (cluster.jobRuns()[0]?.pods[0]?.pod.status.phase === 'Running' ? true : undefined));
    await cluster.call(call('DELETE', '/apis/batch/v1/namespaces/bench/jobs/orphan'));
    expect(cluster.jobRuns()[0]!.pods[0]!.pod.status.phase).toBe('Running');
  });

  it('as strict as the scheduler: a pod asking for more CPU than the node allocates stays Pending, Unschedulable, with the scheduler\'s message; the Job is active, none ready', async () => {
    await newCluster();
    const body = job('big', "console.log('must not run')");
    (body.spec.template.spec.containers[0] as Record<string, unknown>).resources = { requests: { cpu: '8', memory: '1Gi' }, limits: { cpu: '8', memory: '1Gi' } };
    await cluster.call(call('POST', '/api/v1/namespaces/bench/configmaps', { metadata: { name: 'big-cfg' }, data: {} }));
    await cluster.call(call('POST', '/apis/batch/v1/namespaces/bench/jobs', body));
    const pending = await until(async () => {
      const r = (await cluster.call(call('GET', '/api/v1/namespaces/bench/pods', undefined, { labelSelector: ['batch.kubernetes.io/job-name=big'], fieldSelector: ['status.phase=Pending'], limit: ['1'] }))).ResponseBody as { items: Array<{ spec: { nodeName?: string }; status: { conditions?: unknown[] } }> };
      return r.items[0]?.status.conditions ? r.items[0] : undefined;
    });
    expect(pending.status.conditions).toEqual([expect.objectContaining({ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: expect.stringMatching(/^0\/1 nodes are available: 1 Insufficient cpu\./) })]);
    expect(pending.spec.nodeName).toBeUndefined();
    expect(await status('big')).toMatchObject({ active: 1, ready: 0 });
    expect(cluster.jobRuns()[0]!.pods[0]!.logs).toEqual([]);
    // 500m under the node's 7.91: scheduled and run.
    (body.spec.template.spec.containers[0] as Record<string, unknown>).resources = { requests: { cpu: '7500m', memory: '1Gi' }, limits: { cpu: '7500m', memory: '1Gi' } };
    body.metadata.name = 'fits';
    body.spec.template.spec.volumes[0]!.configMap = { name: 'big-cfg' };
    await cluster.call(call('POST', '/apis/batch/v1/namespaces/bench/jobs', body));
    expect(await finished('fits')).toMatchObject({ succeeded: 1 });
  });

  it('an image it cannot run fails its pod with a message that says so', async () => {
    await newCluster();
    const body = job('ip', '');
    body.spec.template.spec.containers[0]!.image = 'quay.io/inference-perf/inference-perf:v0.6.1';
    await cluster.call(call('POST', '/api/v1/namespaces/bench/configmaps', { metadata: { name: 'ip-cfg' }, data: {} }));
    await cluster.call(call('POST', '/apis/batch/v1/namespaces/bench/jobs', body));
    await finished('ip');
    expect(cluster.jobRuns()[0]!.pods[0]!.pod.status).toMatchObject({ phase: 'Failed', containerStatuses: [{ state: { terminated: { message: expect.stringMatching(/runs only stock Node images; quay\.io\/inference-perf\/inference-perf:v0\.6\.1 cannot run on this machine/) } } }] });
  });
});

describe('the local Kubernetes API says no as EKS does', () => {
  const restricted = { namespaceLabels: { bench: { 'pod-security.kubernetes.io/enforce': 'restricted' } } };
  const events = async (name: string) =>
    ((await cluster.call(call('GET', '/api/v1/namespaces/bench/events', undefined, { fieldSelector: [`involvedObject.name=${name},reason=FailedCreate`] }))).ResponseBody as { items: Array<{ message: string; count: number; type: string }> }).items;

  it('Pod Security "restricted": a Job whose pod template violates it gets no pod; the Job controller records FailedCreate with the API server\'s refusal', async () => {
    await newCluster(restricted);
    await cluster.call(call('POST', '/api/v1/namespaces/bench/configmaps', { metadata: { name: 'loose-cfg' }, data: {} }));
    await cluster.call(call('POST', '/apis/batch/v1/namespaces/bench/jobs', job('loose', 'console.log(1)')));
    expect(await status('loose')).toEqual({ startTime: expect.any(String), ready: 0 });
    expect(cluster.jobRuns()[0]!.pods).toEqual([]);
    const [e] = await events('loose');
    expect(e).toMatchObject({ type: 'Warning', count: 1 });
    expect(e!.message).toMatch(
      /^Error creating: pods "loose-0-[0-9a-f]{5}" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false \(container "main" must set securityContext\.allowPrivilegeEscalation=false\), unrestricted capabilities \(container "main" must set securityContext\.capabilities\.drop=\["ALL"\]\), runAsNonRoot != true \(pod or container "main" must set securityContext\.runAsNonRoot=true\), seccompProfile \(pod or container "main" must set securityContext\.seccompProfile\.type to "RuntimeDefault" or "Localhost"\)$/,
    );
  });

  it('Pod Security "restricted": the same Job with a restricted security context runs', async () => {
    await newCluster(restricted);
    const body = job('tight', 'console.log(1)');
    Object.assign(body.spec.template.spec, { securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } } });
    Object.assign(body.spec.template.spec.containers[0]!, { securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } });
    await cluster.call(call('POST', '/api/v1/namespaces/bench/configmaps', { metadata: { name: 'tight-cfg' }, data: {} }));
    await cluster.call(call('POST', '/apis/batch/v1/namespaces/bench/jobs', body));
    expect(await finished('tight')).toMatchObject({ succeeded: 1 });
    expect(await events('tight')).toEqual([]);
  });

  it('a namespace without the label admits the same loose pod (privileged is the default level)', async () => {
    await newCluster();
    await cluster.call(call('POST', '/api/v1/namespaces/bench/configmaps', { metadata: { name: 'loose-cfg' }, data: {} }));
    await cluster.call(call('POST', '/apis/batch/v1/namespaces/bench/jobs', job('loose', 'console.log(1)')));
    expect(await finished('loose')).toMatchObject({ succeeded: 1 });
  });

  it('authorizes every call as the access entry: a verb outside its policies\' rules or namespaces is 403 with the API server\'s Status; none at all is 401', async () => {
    const view = { username: 'arn:aws:sts::000000000000:assumed-role/wf/{{SessionName}}', accessPolicies: [{ policy: 'AmazonEKSViewPolicy', namespaces: ['default'] }], kubernetesGroups: [] };
    await newCluster({ access: view });
    expect((await cluster.call(call('GET', '/api/v1/namespaces/default/pods'))).StatusCode).toBe(200);
    const refused = cluster.call(call('POST', '/apis/batch/v1/namespaces/default/jobs', job('x', '')));
    await expect(refused).rejects.toMatchObject({ name: 'EKS.403' });
    const body = JSON.parse(((await refused.catch((e: Error) => e)) as Error).message) as Record<string, unknown>;
    expect(body).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'Forbidden',
      code: 403,
      message: 'jobs.batch is forbidden: User "arn:aws:sts::000000000000:assumed-role/wf/{{SessionName}}" cannot create resource "jobs" in API group "batch" in the namespace "default"',
    });
    // View scoped to default: nothing in bench, not even a list.
    await expect(cluster.call(call('GET', '/api/v1/namespaces/bench/pods'))).rejects.toMatchObject({ name: 'EKS.403' });
    cluster.access = null;
    await expect(cluster.call(call('GET', '/api/v1/namespaces/default/pods'))).rejects.toMatchObject({ name: 'EKS.401' });
  });

  it('RBAC: an access entry with only a Kubernetes group may do what the Roles bound to that group allow, where they are bound, and nothing else', async () => {
    const entry = { username: 'wf', accessPolicies: [], kubernetesGroups: ['inference-baseline:workflow'] };
    await newCluster({ access: entry, rbac: appliedRbac(renderWorkflowRbac('bench', 'default')) });
    expect((await cluster.call(call('GET', '/api/v1/namespaces/bench/events'))).StatusCode).toBe(200);
    expect((await cluster.call(call('GET', '/api/v1/namespaces/default/pods'))).StatusCode).toBe(200);
    // Reading a Job by name is bound; listing Jobs is not, nor anything in the target namespace but pods.
    await expect(cluster.call(call('GET', '/apis/batch/v1/namespaces/bench/jobs'))).rejects.toMatchObject({ name: 'EKS.403' });
    await expect(cluster.call(call('GET', '/api/v1/namespaces/default/configmaps'))).rejects.toMatchObject({ name: 'EKS.403' });
    // The same entry, the Roles not applied: refused everywhere.
    cluster.rbac = { roles: [], bindings: [] };
    await expect(cluster.call(call('GET', '/api/v1/namespaces/bench/events'))).rejects.toMatchObject({ name: 'EKS.403' });
  });

  it('a ResourceQuota on requests.cpu refuses a pod beyond it at admission, with the quota\'s words', async () => {
    await newCluster();
    cluster.faults = { cpuQuota: { bench: 0.5 } };
    const body = job('big', 'console.log(1)');
    Object.assign(body.spec.template.spec.containers[0]!, { resources: { requests: { cpu: '750m' } } });
    await cluster.call(call('POST', '/apis/batch/v1/namespaces/bench/jobs', body));
    expect((await events('big'))[0]!.message).toMatch(/^Error creating: pods "big-0-[0-9a-f]{5}" is forbidden: exceeded quota: compute, requested: requests\.cpu=0\.75, used: requests\.cpu=0, limited: requests\.cpu=0\.5$/);
  });
});
