import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Definition } from '../../runtime/core/ports/local-stack.ts';
import { VirtualClock } from '../../runtime/local/clock.ts';
import { LOCAL_OIDC_ISSUER } from '../../runtime/local/kubernetes/web-identity.ts';
import { LocalWorkflow } from '../../runtime/local/workflow.ts';
import { runnerBundle, testStack } from '../support/test-stack.ts';

/**
 * A private cluster with pods on Fargate, as the stack meets it: `clusterAccess: vpc` (every
 * Kubernetes call is the KubeCall function's real HTTPS request to the local API server, which
 * verifies its EKS token and trusts it only as the access entry of KubeCall's role) and
 * `runnerCredentials: irsa` (no Pod Identity association exists: the runner's SDK exchanges its
 * projected ServiceAccount token at the local STS, which checks the runner role's trust policy).
 */

const VPC = { clusterAccess: 'vpc', vpcSubnetIds: ['subnet-00000000'], vpcSecurityGroupIds: ['sg-00000000'], runnerCredentials: 'irsa', oidcIssuer: LOCAL_OIDC_ISSUER };
const SHORT = { overrides: { load: { stages: [{ rate: 2, duration: 2 }], num_workers: 1 }, data: { output_distribution: { mean: 16, std_dev: 0, min: 16, max: 16 } }, validity: { min_successes: 1 } } };

/** Each Task's resource by state name, Map/Parallel branches included. */
function resources(d: Definition): Record<string, string> {
  return Object.fromEntries(Object.entries(d.States).filter(([, s]) => s.Type === 'Task').map(([name, s]) => [name, String(s.Resource)]));
}

let wf: LocalWorkflow;
beforeAll(async () => {
  wf = await LocalWorkflow.start({ stack: testStack, bundleFile: runnerBundle(), clock: new VirtualClock(), config: VPC });
}, 120_000);
afterAll(() => wf?.stop());

describe('the workflow on a private cluster (clusterAccess vpc, runnerCredentials irsa)', () => {
  it('is the public definition with each Kubernetes task calling KubeCall instead of eks:call: same states, same rules', () => {
    const pub = testStack.synthesize({ clusterName: 'local', targetBaseUrl: wf.env.targetUrl, pollIntervalSeconds: 5 });
    const kubeCall = Object.entries(wf.synth.functionArns).find(([, f]) => f === 'KubeCall')![0];
    for (const [vpc, pubDef] of [
      [wf.synth.definition, pub.definition],
      [wf.synth.reaperDefinition, pub.reaperDefinition],
    ] as const) {
      expect(Object.keys(vpc.States)).toEqual(Object.keys(pubDef.States));
      const swapped = Object.entries(resources(pubDef)).filter(([, r]) => r.endsWith(':states:::eks:call'));
      expect(swapped.length).toBeGreaterThan(0);
      for (const [name] of swapped) {
        expect(resources(vpc)[name]).toBe(kubeCall);
        // Everything but the Resource (and the Lambda's own transient errors a POST retries) is the public state's.
        const { Resource: _a, Retry: ra, ...vpcRest } = vpc.States[name]!;
        const { Resource: _b, Retry: rb, ...pubRest } = pubDef.States[name]!;
        expect(vpcRest).toEqual(pubRest);
        expect((ra as Array<{ ErrorEquals: string[] }>).map((r) => r.ErrorEquals.filter((e) => !e.startsWith('Lambda.')))).toEqual((rb as Array<{ ErrorEquals: string[] }>).map((r) => r.ErrorEquals));
      }
      expect(Object.values(resources(vpc)).some((r) => r.endsWith(':states:::eks:call'))).toBe(false);
    }
    // The access entry's principal is KubeCall's role; the state machine's role has none.
    expect(wf.synth.accessEntries.map((e) => e.principalArn)).toEqual([wf.synth.iam.principals.KubeCall]);
    expect(wf.env.cluster.access).toBeNull();
  });

  it('runs to SUCCEEDED over HTTPS with EKS tokens, and the runner writes its results with IRSA credentials', async () => {
    const r = await wf.execute({ input: SHORT });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe('SUCCEEDED');
    expect(r.output).toMatchObject({ valid: true });
    // eks:call would be refused (the workflow role has no access entry): every call came through KubeCall's HTTPS.
    expect(wf.env.cluster.calls.length).toBeGreaterThan(5);
    expect(wf.env.cluster.calls.every((c) => c.status < 400 || (c.method === 'DELETE' && c.status === 404))).toBe(true);
    expect(wf.env.tokenRefusals).toEqual([]);
    // The runner came in by its web identity, for its own ServiceAccount, and nothing else gave it credentials.
    expect(wf.env.webIdentity.granted).toContainEqual({ roleArn: wf.synth.iam.principals.runner, subject: 'system:serviceaccount:benchmarking:inference-baseline-runner' });
    expect(wf.env.cluster.podIdentityRole('benchmarking', 'inference-baseline-runner')).toBeNull();
    expect(r.runSpec?.irsaRoleArn).toBe(wf.synth.iam.principals.runner);
  }, 90_000);
});

describe('a refusal over HTTPS is the same failure as over eks:call', () => {
  let denied: LocalWorkflow;
  beforeAll(async () => {
    // RBAC mode with nobody having applied the Roles: the API server answers KubeCall's first call 403.
    denied = await LocalWorkflow.start({ stack: testStack, bundleFile: runnerBundle(), clock: new VirtualClock(), config: { ...VPC, workflowKubernetesAccess: 'rbac' }, rbacApplied: false });
  }, 120_000);
  afterAll(() => denied?.stop());

  it("AccessDenied (EKS.403, caught by name), naming KubeCall's role and quoting the API server; nothing created, the claim released", async () => {
    const r = await denied.execute({ input: SHORT });
    expect(r.status).toBe('FAILED');
    expect(r.error?.error).toBe('AccessDenied');
    expect(r.error?.cause).toMatch(/^The Kubernetes API refused the KubeCall function's role \(EKS\.403\)\./);
    expect(r.error?.cause).toMatch(/pods is forbidden: User \\?"arn:aws:sts::000000000000:assumed-role\/[^/]*KubeCall[^/]*\/\{\{SessionName\}\}\\?" cannot list resource/);
    expect(r.states.map((s) => s.name)).toContain('ReleaseRun');
    expect(denied.env.cluster.existing('jobs')).toEqual([]);
    expect(denied.env.tokenRefusals).toEqual([]);
  }, 60_000);
});
