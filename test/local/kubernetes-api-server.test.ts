import { Agent, request, type Dispatcher } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EKS_TOKEN_PREFIX, eksToken } from '../../runtime/aws/eks-token.ts';
import type { LocalCredentials } from '../../runtime/local/iam.ts';
import { VirtualClock } from '../../runtime/local/clock.ts';
import type { AccessEntry } from '../../runtime/local/kubernetes/access.ts';
import { bearerToken, startKubernetesApi, type KubernetesApi, type KubernetesApiOptions } from '../../runtime/local/kubernetes/api-server.ts';
import { LocalCluster } from '../../runtime/local/kubernetes/cluster.ts';
import { createLocalCa } from '../../runtime/local/kubernetes/local-ca.ts';
import { PodIdentityAgent } from '../../runtime/local/kubernetes/pod-identity.ts';
import { useTempDirs } from '../support/temp-dir.ts';

const tempDir = useTempDirs();
const REGION = 'us-east-1';
const CLUSTER = 'bench-cluster';
/** The local cloud's time: tokens are signed and checked against it, so age is set, not waited for. */
const T = Date.parse('2026-12-07T07:00:00Z');
const UNAUTHORIZED = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 };

const keyOf = (id: string): LocalCredentials => ({ accessKeyId: id, secretAccessKey: `secret-${id}`, sessionToken: `session-${id}` });
const editor = keyOf('ASIAEDITOR0000000001');
const viewer = keyOf('ASIAVIEWER0000000001');
/** Known to STS, but EKS has no access entry for its principal. */
const stranger = keyOf('ASIASTRANGER00000001');
const sts = new Map([editor, viewer, stranger].map((c) => [c.accessKeyId, c]));
const entries = new Map<string, AccessEntry>([
  [editor.accessKeyId, { username: 'arn:aws:sts::000000000000:assumed-role/kube-call/local', accessPolicies: [{ policy: 'AmazonEKSEditPolicy', namespaces: ['bench'] }], kubernetesGroups: [] }],
  [viewer.accessKeyId, { username: 'arn:aws:sts::000000000000:assumed-role/viewer/local', accessPolicies: [{ policy: 'AmazonEKSViewPolicy', namespaces: ['bench'] }], kubernetesGroups: [] }],
]);

const tokenOf = (credentials: LocalCredentials, o: { clusterName?: string; now?: number } = {}): Promise<string> =>
  eksToken({ clusterName: o.clusterName ?? CLUSTER, region: REGION, credentials, now: o.now ?? T });

/** The same token with its presigned URL changed (the signature no longer covers what it says). */
function tampered(token: string, change: (q: URLSearchParams) => void): string {
  const url = new URL(Buffer.from(token.slice(EKS_TOKEN_PREFIX.length), 'base64url').toString('utf8'));
  change(url.searchParams);
  return EKS_TOKEN_PREFIX + Buffer.from(url.toString()).toString('base64url');
}

function options(cluster: KubernetesApiOptions['cluster'], refusals: string[]): KubernetesApiOptions {
  return {
    cluster,
    clusterName: CLUSTER,
    region: REGION,
    now: () => T,
    credentialsOf: (k) => sts.get(k),
    accessOf: (k) => entries.get(k) ?? null,
    onRefusal: (reason) => refusals.push(reason),
  };
}

/** A client that trusts the API's CA only (base64 PEM, as DescribeCluster gives it). */
const trustingAgent = (api: KubernetesApi): Agent => new Agent({ connect: { ca: Buffer.from(api.certificateAuthority, 'base64').toString('utf8') } });

async function kube(api: KubernetesApi, dispatcher: Dispatcher, method: Dispatcher.HttpMethod, path: string, o: { token?: string; body?: string } = {}) {
  const res = await request(`${api.endpoint}${path}`, {
    method,
    dispatcher,
    headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(o.body !== undefined ? { body: o.body } : {}),
  });
  return { status: res.statusCode, contentType: res.headers['content-type'], body: (await res.body.json()) as Record<string, unknown> };
}

describe('the local Kubernetes API over HTTPS (a private cluster\'s endpoint, EKS tokens)', () => {
  let cluster: LocalCluster;
  let api: KubernetesApi;
  let client: Agent;
  const refusals: string[] = [];
  const call = (method: Dispatcher.HttpMethod, path: string, o: { token?: string; body?: string } = {}) => kube(api, client, method, path, o);

  beforeAll(async () => {
    const serverPod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'server-0', namespace: 'bench', labels: { app: 'server' } }, status: { phase: 'Running' } };
    cluster = new LocalCluster({ namespaces: ['bench'], pods: [serverPod] }, { sandboxRoot: await tempDir(), agent: new PodIdentityAgent([]), extraEnv: {}, onLog: () => undefined, clock: new VirtualClock() });
    api = await startKubernetesApi(options(cluster, refusals));
    client = trustingAgent(api);
  });
  afterAll(async () => {
    await client?.close();
    await api?.stop();
    await cluster?.shutdown();
  });
  beforeEach(() => {
    refusals.length = 0;
  });

  it('serves on loopback over HTTPS and gives DescribeCluster\'s view of itself: the endpoint and the CA as base64 PEM', () => {
    expect(api.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(Buffer.from(api.certificateAuthority, 'base64').toString('utf8')).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n?$/);
  });

  it('accepts a token signed for this cluster and answers as the principal\'s access entry: a PodList, filtered by the query', async () => {
    const token = await tokenOf(editor);
    const all = await call('GET', '/api/v1/namespaces/bench/pods', { token });
    expect(all).toMatchObject({ status: 200, contentType: 'application/json', body: { kind: 'PodList', apiVersion: 'v1', items: [{ metadata: { name: 'server-0' } }] } });
    const none = await call('GET', `/api/v1/namespaces/bench/pods?labelSelector=${encodeURIComponent('app=other')}`, { token });
    expect(none).toMatchObject({ status: 200, body: { kind: 'PodList', items: [] } });
    expect(refusals).toEqual([]);
  });

  it.each([
    { what: 'a token signed for another cluster', token: () => tokenOf(editor, { clusterName: 'other-cluster' }), reason: /signature does not match/ },
    { what: 'a token signed more than 15 minutes ago', token: () => tokenOf(editor, { now: T - 15 * 60_000 - 1_000 }), reason: /expired/ },
    { what: 'a token whose signature was changed', token: async () => tampered(await tokenOf(editor), (q) => q.set('X-Amz-Signature', flipFirst(q.get('X-Amz-Signature')!))), reason: /signature does not match/ },
    { what: 'a token with a query parameter added', token: async () => tampered(await tokenOf(editor), (q) => q.append('DurationSeconds', '43200')), reason: /signature does not match/ },
    { what: 'a token signed with a key STS does not know', token: () => tokenOf(keyOf('ASIAUNKNOWN000000001')), reason: /STS does not know/ },
    { what: 'a bearer token that is not an EKS token', token: async () => 'not-an-eks-token', reason: /not an EKS token/ },
    { what: 'no token at all', token: async () => undefined, reason: /no bearer token/ },
    { what: 'a valid token of a principal without an access entry', token: () => tokenOf(stranger), reason: /has no access entry/ },
  ])('refuses $what: 401 with the API server\'s bare Unauthorized Status; the reason only to onRefusal; the cluster is not called', async ({ token, reason }) => {
    const callsBefore = cluster.calls.length;
    const res = await call('GET', '/api/v1/namespaces/bench/pods', { token: await token() });
    expect(res).toEqual({ status: 401, contentType: 'application/json', body: UNAUTHORIZED });
    expect(refusals).toEqual([expect.stringMatching(reason)]);
    expect(cluster.calls.length).toBe(callsBefore);
  });

  it('an access entry without the right: 403 with the API server\'s Forbidden Status, naming the user', async () => {
    const res = await call('POST', '/api/v1/namespaces/bench/configmaps', { token: await tokenOf(viewer), body: JSON.stringify({ metadata: { name: 'cfg' }, data: {} }) });
    expect(res).toMatchObject({
      status: 403,
      contentType: 'application/json',
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        reason: 'Forbidden',
        code: 403,
        message: 'configmaps is forbidden: User "arn:aws:sts::000000000000:assumed-role/viewer/local" cannot create resource "configmaps" in API group "" in the namespace "bench"',
      },
    });
  });

  it('passes the cluster\'s answers through: 404 NotFound, 201 for a created ConfigMap (then readable), 409 for a second', async () => {
    const token = await tokenOf(editor);
    expect(await call('GET', '/api/v1/namespaces/bench/configmaps/absent', { token })).toMatchObject({ status: 404, body: { kind: 'Status', reason: 'NotFound', code: 404, message: 'configmaps "absent" not found' } });
    const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'run-cfg' }, data: { 'config.yml': 'rate: 1\n' } });
    const created = await call('POST', '/api/v1/namespaces/bench/configmaps', { token, body });
    expect(created).toMatchObject({ status: 201, body: { kind: 'ConfigMap', metadata: { name: 'run-cfg', namespace: 'bench', uid: expect.any(String) } } });
    expect(await call('GET', '/api/v1/namespaces/bench/configmaps/run-cfg', { token })).toMatchObject({ status: 200, body: { data: { 'config.yml': 'rate: 1\n' } } });
    expect(await call('POST', '/api/v1/namespaces/bench/configmaps', { token, body })).toMatchObject({ status: 409, body: { reason: 'AlreadyExists' } });
  });

  it('a body that is not a JSON object is the API server\'s 400 BadRequest, before the cluster is called', async () => {
    const callsBefore = cluster.calls.length;
    const res = await call('POST', '/api/v1/namespaces/bench/configmaps', { token: await tokenOf(editor), body: '{"metadata":' });
    expect(res).toMatchObject({ status: 400, contentType: 'application/json', body: { kind: 'Status', reason: 'BadRequest', code: 400 } });
    expect(cluster.calls.length).toBe(callsBefore);
  });

  it.each([
    { what: 'the system\'s roots only', agent: async () => new Agent() },
    { what: 'another local CA', agent: async () => new Agent({ connect: { ca: (await createLocalCa()).caPem } }) },
  ])('a client that trusts $what is refused by TLS', async ({ agent }) => {
    const untrusting = await agent();
    try {
      await expect(kube(api, untrusting, 'GET', '/api/v1/namespaces/bench/pods', { token: await tokenOf(editor) })).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    } finally {
      await untrusting.close();
    }
  });
});

describe('what the API server hands the cluster, and what it does with other failures', () => {
  it('the call as eks:call would make it (method, path, every value of a repeated query key, the JSON body, its own endpoint and CA) and the principal\'s access entry', async () => {
    const seen: Array<{ input: unknown; access: unknown }> = [];
    const fake: KubernetesApiOptions['cluster'] = { callAs: async (input, access) => (seen.push({ input, access }), { ResponseBody: { ok: true }, StatusCode: 202, StatusText: 'Accepted' }) };
    const api = await startKubernetesApi(options(fake, []));
    const client = trustingAgent(api);
    try {
      const res = await kube(api, client, 'POST', '/apis/batch/v1/namespaces/bench/jobs?labelSelector=a%3Db&labelSelector=c%3Dd&limit=1', { token: await tokenOf(editor), body: '{"metadata":{"name":"j"}}' });
      expect(res).toEqual({ status: 202, contentType: 'application/json', body: { ok: true } });
      expect(seen).toEqual([
        {
          input: {
            ClusterName: CLUSTER,
            Endpoint: api.endpoint,
            CertificateAuthority: api.certificateAuthority,
            Method: 'POST',
            Path: '/apis/batch/v1/namespaces/bench/jobs',
            QueryParameters: { labelSelector: ['a=b', 'c=d'], limit: ['1'] },
            RequestBody: { metadata: { name: 'j' } },
          },
          access: entries.get(editor.accessKeyId),
        },
      ]);
    } finally {
      await client.close();
      await api.stop();
    }
  });

  it('any other error is a 500 InternalError Status; stop() closes kept-alive connections and the port', async () => {
    const fake: KubernetesApiOptions['cluster'] = {
      callAs: async () => {
        throw new Error('the cluster broke');
      },
    };
    const api = await startKubernetesApi(options(fake, []));
    const client = trustingAgent(api);
    try {
      const res = await kube(api, client, 'GET', '/api/v1/namespaces/bench/pods', { token: await tokenOf(editor) });
      expect(res).toEqual({
        status: 500,
        contentType: 'application/json',
        body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Internal error occurred: the cluster broke', reason: 'InternalError', details: { causes: [{ message: 'the cluster broke' }] }, code: 500 },
      });
      // The client keeps that connection alive; stop() must not wait for it to go idle.
      await api.stop();
      await expect(kube(api, client, 'GET', '/api/v1/namespaces/bench/pods', { token: await tokenOf(editor) })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      await client.close();
    }
  });
});

describe('bearerToken (the API server\'s reading of the Authorization header)', () => {
  it.each([
    { header: 'Bearer k8s-aws-v1.abc', token: 'k8s-aws-v1.abc' },
    { header: 'bearer k8s-aws-v1.abc', token: 'k8s-aws-v1.abc' },
    { header: '  Bearer k8s-aws-v1.abc  ', token: 'k8s-aws-v1.abc' },
    { header: 'Bearer', token: null },
    { header: 'Bearer  k8s-aws-v1.abc', token: null },
    { header: 'Basic dXNlcjpwYXNz', token: null },
    { header: undefined, token: null },
  ])('$header → $token', ({ header, token }) => {
    expect(bearerToken(header)).toBe(token);
  });
});

function flipFirst(s: string): string {
  return (s[0] === 'a' ? 'b' : 'a') + s.slice(1);
}
