import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../runtime/local/clock.ts';
import type { AppliedRbac } from '../../runtime/local/kubernetes/access.ts';
import { LocalWorkflow } from '../../runtime/local/workflow.ts';
import { runnerBundle, testStack } from '../support/test-stack.ts';

/**
 * The stack with `workflowKubernetesAccess: rbac`: its access entry grants no EKS access policy,
 * only the Kubernetes group that the Roles of `inference-baseline render --rbac` bind. The local
 * cluster authorizes every call of the synthesized state machines as that entry, with those Roles
 * applied as kubectl would apply them — or, as on a cluster where nobody applied them, without.
 */

let wf: LocalWorkflow;
let applied: AppliedRbac;
beforeAll(async () => {
  wf = await LocalWorkflow.start({ stack: testStack, bundleFile: runnerBundle(), clock: new VirtualClock(), config: { workflowKubernetesAccess: 'rbac' } });
  applied = wf.env.cluster.rbac;
}, 120_000);
afterAll(() => wf?.stop());

const SHORT = { overrides: { load: { stages: [{ rate: 2, duration: 1 }], num_workers: 1 }, data: { output_distribution: { mean: 16, std_dev: 0, min: 16, max: 16 } }, validity: { min_successes: 1 } } };

describe('the workflow with Kubernetes rights from RBAC Roles alone', () => {
  it('the synthesized access entry holds no access policy, only the group', () => {
    expect(wf.env.cluster.access).toMatchObject({ accessPolicies: [], kubernetesGroups: ['inference-baseline:workflow'] });
    expect(applied.bindings.map((b) => b.namespace).sort()).toEqual(['benchmarking', 'default']);
  });

  it('with the rendered Roles applied, a run succeeds without one refused call and leaves nothing in the cluster', async () => {
    const r = await wf.execute({ input: SHORT });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe('SUCCEEDED');
    expect(wf.env.cluster.calls.every((c) => c.status < 400 || (c.method === 'DELETE' && c.status === 404))).toBe(true);
    expect(wf.env.cluster.existing('jobs')).toEqual([]);
  }, 60_000);

  it('without them (nobody ran render --rbac | kubectl apply): AccessDenied, and the cause says which Roles to apply', async () => {
    wf.env.cluster.rbac = { roles: [], bindings: [] };
    try {
      const r = await wf.execute({ input: SHORT });
      expect(r.error?.error).toBe('AccessDenied');
      expect(r.error?.cause).toMatch(/puts the role in Kubernetes group inference-baseline:workflow, which the Roles and RoleBindings of `inference-baseline render --rbac` must bind in namespaces benchmarking and default/);
      expect(r.error?.cause).toMatch(/pods is forbidden: .* cannot list resource \\?"pods\\?" in API group \\?"\\?" in the namespace \\?"default/);
    } finally {
      wf.env.cluster.rbac = applied;
    }
  }, 60_000);
});
