import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { renderCommand } from '../../runtime/cli/commands/render.ts';
import { podSecurityRefusal, podSecurityViolations, type PodSpec } from '../../runtime/local/kubernetes/pod-security.ts';

/**
 * The Pod Security Standards as the local Kubernetes stand-in enforces them (its admission; the
 * workflow's tests run a namespace labelled "restricted"), and the Jobs `render` prints for both
 * runners, checked against the strictest level.
 */
const deps = { readFile: () => '', now: () => Date.UTC(2025, 0, 1, 2), randomSuffix: () => 'ab12cd' };
const jobPod = (text: string): PodSpec => (parseAllDocuments(text).map((d) => d.toJS() as { kind: string; spec: { template: { spec: PodSpec } } }).find((d) => d.kind === 'Job')!).spec.template.spec;

describe('Pod Security admission', () => {
  it.each([
    ['native, bundle delivery', { bundleUrl: 'https://b.s3.amazonaws.com/x.mjs?X-Amz-Signature=1', bundleSha256: 'a'.repeat(64) }],
    ['native, image delivery', { image: 'repo/ib:1' }],
    ['inference-perf', { runner: 'inference-perf' }],
  ])('render\'s Job (%s) passes "restricted": runAsNonRoot, no privilege escalation, no capabilities, RuntimeDefault seccomp', (_name, o) => {
    const pod = jobPod(renderCommand({ bucket: 'my-results', ...o }, deps));
    expect(podSecurityViolations(pod, 'restricted')).toEqual([]);
    for (const c of pod.containers) {
      expect(c.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
      expect(c.securityContext!.runAsUser).toBeGreaterThan(0);
    }
  });

  it('refuses a container without a security context under "restricted", listing every check as the API server does; "baseline" allows it', () => {
    const pod: PodSpec = { containers: [{ name: 'runner' }], volumes: [{ name: 'tmp', emptyDir: {} }] };
    const violations = podSecurityViolations(pod, 'restricted');
    expect(podSecurityRefusal('job-0-abcde', 'restricted', violations)).toBe(
      'pods "job-0-abcde" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "runner" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "runner" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "runner" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "runner" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
    );
    expect(podSecurityViolations(pod, 'baseline')).toEqual([]);
  });

  it('pod-level settings count for every container; baseline still refuses host access and privilege', () => {
    const pod: PodSpec = {
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{ name: 'a', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
    };
    expect(podSecurityViolations(pod, 'restricted')).toEqual([]);
    const hostile: PodSpec = { hostNetwork: true, containers: [{ name: 'a', securityContext: { privileged: true } }], volumes: [{ name: 'h', hostPath: { path: '/' } }] };
    expect(podSecurityViolations(hostile, 'baseline')).toEqual(['host namespaces (hostNetwork=true)', 'privileged (container "a" must not set securityContext.privileged=true)', 'hostPath volumes ("h")']);
  });
});
