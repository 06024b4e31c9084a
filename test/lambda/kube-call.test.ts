import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../runtime/core/errors.ts';
import { kubeCall } from '../../runtime/lambda/kube-call.ts';
import { VirtualClock } from '../../runtime/local/clock.ts';
import { startKubernetesApi, type KubernetesApi } from '../../runtime/local/kubernetes/api-server.ts';
import { LocalCluster } from '../../runtime/local/kubernetes/cluster.ts';
import { createLocalCa } from '../../runtime/local/kubernetes/local-ca.ts';
import { PodIdentityAgent } from '../../runtime/local/kubernetes/pod-identity.ts';
import { useTempDirs } from '../support/temp-dir.ts';

/**
 * KubeCall, the VPC path's Kubernetes caller, against the local API server over real HTTPS: the
 * same results as eks:call, refusals named `EKS.<status>` with the API server's Status body, and a
 * server whose certificate the cluster's CA did not sign refused before any request is sent.
 */

const tempDir = useTempDirs();
const T = Date.parse('2026-12-07T07:00:00Z');
const credentials = { accessKeyId: 'ASIAKUBECALL00000001', secretAccessKey: 'kube-call-secret', sessionToken: 'kube-call-session' };
const deps = { region: 'us-east-1', credentials: async () => credentials, now: () => T };

let api: KubernetesApi;
const refusals: string[] = [];
beforeAll(async () => {
  const cluster = new LocalCluster({ namespaces: ['bench'] }, { sandboxRoot: await tempDir(), agent: new PodIdentityAgent([]), extraEnv: {}, onLog: () => undefined, clock: new VirtualClock() });
  api = await startKubernetesApi({
    cluster,
    clusterName: 'private-demo',
    region: 'us-east-1',
    now: () => T,
    credentialsOf: (k) => (k === credentials.accessKeyId ? credentials : undefined),
    accessOf: () => ({ username: 'arn:aws:sts::000000000000:assumed-role/KubeCall/x', accessPolicies: [{ policy: 'AmazonEKSEditPolicy', namespaces: ['bench'] }], kubernetesGroups: [] }),
    onRefusal: (r) => refusals.push(r),
  });
});
afterAll(() => api?.stop());

const call = (o: Record<string, unknown> = {}) => ({ ClusterName: 'private-demo', Endpoint: api.endpoint, CertificateAuthority: api.certificateAuthority, Method: 'GET', Path: '/api/v1/namespaces/bench/configmaps', ...o });
const failure = (p: Promise<unknown>) => p.then(() => expect.unreachable('the call should fail'), (e: Error) => e);

describe('KubeCall: eks:call made over HTTPS from the VPC', () => {
  it("answers as eks:call does: ResponseBody, StatusCode, StatusText (a create is 201 Created, a list the API server's List)", async () => {
    const created = await kubeCall(call({ Method: 'POST', RequestBody: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm-1' }, data: { a: '1' } } }), deps);
    expect(created).toMatchObject({ StatusCode: 201, StatusText: 'Created', ResponseBody: { kind: 'ConfigMap', metadata: { name: 'cm-1', namespace: 'bench' } } });
    const listed = await kubeCall(call({ QueryParameters: { labelSelector: [''], limit: ['10'] } }), deps);
    expect(listed).toMatchObject({ StatusCode: 200, StatusText: 'OK', ResponseBody: { kind: 'ConfigMapList', items: [{ metadata: { name: 'cm-1' } }] } });
  });

  it("names a refusal EKS.<status> with the API server's Status body as the cause (what the workflow's catchers read)", async () => {
    const e = await failure(kubeCall(call({ Path: '/api/v1/namespaces/bench/configmaps/missing' }), deps));
    expect(e.name).toBe('EKS.404');
    expect(JSON.parse(e.message)).toMatchObject({ kind: 'Status', reason: 'NotFound', code: 404 });
    expect(e.message).toContain('"code":404');
  });

  it('a token for another cluster is refused with EKS.401 (the token binds the cluster name it was signed for)', async () => {
    refusals.length = 0;
    const e = await failure(kubeCall(call({ ClusterName: 'other-cluster' }), deps));
    expect(e.name).toBe('EKS.401');
    expect(JSON.parse(e.message)).toMatchObject({ reason: 'Unauthorized', code: 401 });
    expect(refusals).toEqual([expect.stringMatching(/signature does not match/)]);
  });

  it("refuses a server whose certificate the cluster's CA did not sign: nothing is sent, the cause says the endpoint is not this cluster's", async () => {
    const other = await createLocalCa();
    refusals.length = 0;
    const e = await failure(kubeCall(call({ CertificateAuthority: Buffer.from(other.caPem).toString('base64') }), deps));
    expect(e.name).toBe('KubernetesApi.Unreachable');
    expect(e.message).toMatch(/^the Kubernetes API at https:\/\/127\.0\.0\.1:\d+ presented a certificate the cluster's CA did not sign \(UNABLE_TO_VERIFY_LEAF_SIGNATURE.*\): the endpoint is not this cluster's$/);
    expect(refusals).toEqual([]);
  });

  it('an endpoint nothing answers at names the network settings to check', async () => {
    const closed = await startKubernetesApi({ cluster: { callAs: async () => ({ ResponseBody: {}, StatusCode: 200, StatusText: 'OK' }) }, clusterName: 'x', region: 'us-east-1', now: () => T, credentialsOf: () => undefined, accessOf: () => null });
    await closed.stop();
    const e = await failure(kubeCall(call({ Endpoint: closed.endpoint, CertificateAuthority: closed.certificateAuthority }), deps));
    expect(e.name).toBe('KubernetesApi.Unreachable');
    expect(e.message).toMatch(/could not reach the Kubernetes API at https:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED.*\): the Lambda's subnets must route to the endpoint's private addresses and the cluster's security group must admit its security groups on 443/);
  });

  it('an event that is not an eks:call task\'s parameters is one InputError naming them', async () => {
    const e = await failure(kubeCall({ ClusterName: 'x', Endpoint: 'http://plain', Method: 'FETCH' }, deps));
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toMatch(/KubeCall event/);
    expect(e.message).toMatch(/Endpoint/);
    expect(e.message).toMatch(/CertificateAuthority/);
  });
});
