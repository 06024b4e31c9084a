import { DescribeClusterCommand, DescribePodIdentityAssociationCommand, ListPodIdentityAssociationsCommand, ResourceNotFoundException, type EKSClient } from '@aws-sdk/client-eks';

/** What the workflow needs to know about the cluster, read at run time (DescribeCluster). */
export interface ClusterInfo {
  name: string;
  status: string | undefined;
  /** https URL of the Kubernetes API (eks:call `Endpoint`). */
  endpoint: string | undefined;
  /** Base64 PEM of the cluster CA (eks:call `CertificateAuthority`). */
  certificateAuthority: string | undefined;
  endpointPublicAccess: boolean | undefined;
  authenticationMode: string | undefined;
  version: string | undefined;
}

/** A cluster the stack names does not exist (in this account and region). */
export class ClusterNotFoundError extends Error {
  constructor(name: string, region: string) {
    super(`EKS cluster "${name}" was not found in ${region}. Check the stack's clusterName context and the region it was deployed to.`);
    this.name = 'ClusterNotFound';
  }
}

/** DescribeCluster through a caller-built client; a missing cluster becomes `ClusterNotFound`. */
export async function describeCluster(client: Pick<EKSClient, 'send'>, name: string, region: string): Promise<ClusterInfo> {
  try {
    const { cluster } = await client.send(new DescribeClusterCommand({ name }));
    return {
      name,
      status: cluster?.status,
      endpoint: cluster?.endpoint,
      certificateAuthority: cluster?.certificateAuthority?.data,
      endpointPublicAccess: cluster?.resourcesVpcConfig?.endpointPublicAccess,
      authenticationMode: cluster?.accessConfig?.authenticationMode,
      version: cluster?.version,
    };
  } catch (err) {
    if (err instanceof ResourceNotFoundException || (err as { name?: string }).name === 'ResourceNotFoundException') {
      throw new ClusterNotFoundError(name, region);
    }
    throw err;
  }
}

/**
 * The role the runner's ServiceAccount gets through EKS Pod Identity, or null without an
 * association. One association per ServiceAccount: a second stack on the same ServiceAccount would
 * take it over, so PrepareRun checks it is this stack's.
 */
export async function describeRunnerAccess(client: Pick<EKSClient, 'send'>, cluster: string, namespace: string, serviceAccount: string): Promise<{ roleArn: string | null }> {
  const { associations } = await client.send(new ListPodIdentityAssociationsCommand({ clusterName: cluster, namespace, serviceAccount }));
  const id = associations?.[0]?.associationId;
  if (!id) return { roleArn: null };
  const { association } = await client.send(new DescribePodIdentityAssociationCommand({ clusterName: cluster, associationId: id }));
  return { roleArn: association?.roleArn ?? null };
}

/** Why Step Functions' eks:call could not reach or authenticate to this cluster. */
export function clusterProblems(info: ClusterInfo): string[] {
  const problems: string[] = [];
  if (info.status !== 'ACTIVE') problems.push(`its status is ${info.status ?? 'unknown'}, not ACTIVE`);
  if (!info.endpoint || !info.certificateAuthority) problems.push('DescribeCluster returned no endpoint or certificate authority');
  if (info.endpointPublicAccess === false) {
    problems.push('its API endpoint is private; Step Functions eks:call needs public endpoint access (enable it, optionally limited by CIDR)');
  }
  if (info.authenticationMode === 'CONFIG_MAP') {
    problems.push("its authentication mode is CONFIG_MAP; set it to API_AND_CONFIG_MAP (or API) so the stack's access entry applies");
  }
  return problems;
}

/** Why the runner's pods would not get this stack's S3 access through EKS Pod Identity. */
export function runnerAccessProblems(access: { roleArn: string | null }, expected: string, namespace: string, serviceAccount: string): string[] {
  if (access.roleArn === null) {
    return [`service account ${namespace}/${serviceAccount} has no EKS Pod Identity association, so the runner could not write its results; deploy the stack again (it creates the association) and check that the eks-pod-identity-agent add-on is installed`];
  }
  if (access.roleArn !== expected) {
    return [`service account ${namespace}/${serviceAccount} is associated with ${access.roleArn}, not this stack's runner role ${expected} (another stack uses the same service account?); one association per service account: give this stack its own runnerServiceAccount`];
  }
  return [];
}
