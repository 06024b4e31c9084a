import { STSClient } from '@aws-sdk/client-sts';
import { InputError, issueProblems } from '../core/errors.ts';
import { callKubernetes, EksCallInput, type EksCallOutput, type KubernetesApiDeps } from '../aws/kubernetes-api.ts';

/**
 * KubeCall (stacks with `clusterAccess: vpc`): the workflow's Kubernetes calls from inside the
 * cluster's VPC, where a private or CIDR-limited endpoint answers. The state machine's tasks pass it
 * exactly what they would pass `eks:call`; it answers as `eks:call` does (runtime/aws/kubernetes-api.ts).
 * Its role is the principal of the stack's EKS access entry.
 */

export async function kubeCall(event: unknown, deps: KubernetesApiDeps): Promise<EksCallOutput> {
  const parsed = EksCallInput.safeParse(event, { reportInput: true });
  if (!parsed.success) throw new InputError('KubeCall event', issueProblems(parsed.error.issues), 'pass the parameters of an eks:call task (ClusterName, Endpoint, CertificateAuthority, Method, Path).');
  return callKubernetes(parsed.data, deps);
}

let wired: KubernetesApiDeps | undefined;

export async function handler(event: unknown): Promise<EksCallOutput> {
  if (!wired) {
    // The function's own role (the credentials Lambda gives it), through the SDK's default chain.
    const sts = new STSClient({});
    wired = { region: await sts.config.region(), credentials: () => sts.config.credentials(), now: () => Date.now() };
  }
  return kubeCall(event, wired);
}
