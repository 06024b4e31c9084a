import { DescribeAddonCommand, DescribeClusterCommand, DescribePodIdentityAssociationCommand, ListPodIdentityAssociationsCommand, ResourceNotFoundException, type EKSClient } from '@aws-sdk/client-eks';
import { POD_IDENTITY_AGENT_ADDON } from '../core/run-spec/stack-defaults.ts';

/** What the workflow needs to know about the cluster, read at run time (DescribeCluster). */
export interface ClusterInfo {
  name: string;
  status: string | undefined;
  /** https URL of the Kubernetes API (eks:call `Endpoint`). */
  endpoint: string | undefined;
  /** Base64 PEM of the cluster CA (eks:call `CertificateAuthority`). */
  certificateAuthority: string | undefined;
  endpointPublicAccess: boolean | undefined;
  /** The CIDRs the public endpoint accepts (EKS's default: 0.0.0.0/0). */
  publicAccessCidrs: string[] | undefined;
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
      publicAccessCidrs: cluster?.resourcesVpcConfig?.publicAccessCidrs,
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

/** Whether EKS has the Pod Identity Agent add-on on the cluster (the runner pod's credentials come through it). */
export async function podIdentityAgentInstalled(client: Pick<EKSClient, 'send'>, cluster: string): Promise<boolean> {
  try {
    const { addon } = await client.send(new DescribeAddonCommand({ clusterName: cluster, addonName: POD_IDENTITY_AGENT_ADDON }));
    return addon !== undefined;
  } catch (err) {
    if (err instanceof ResourceNotFoundException || (err as { name?: string }).name === 'ResourceNotFoundException') return false;
    throw err;
  }
}

/**
 * Why Step Functions' eks:call could not reach or authenticate to this cluster. It calls the API
 * server from AWS's own addresses, which no CIDR list can name: the public endpoint must be open to
 * all (requests are still authenticated and authorized: the stack's access entry).
 */
export function clusterProblems(info: ClusterInfo): string[] {
  const problems: string[] = [];
  if (info.status !== 'ACTIVE') problems.push(`its status is ${info.status ?? 'unknown'}, not ACTIVE`);
  if (!info.endpoint || !info.certificateAuthority) problems.push('DescribeCluster returned no endpoint or certificate authority');
  if (info.endpointPublicAccess === false) {
    problems.push('its API endpoint is private: Step Functions eks:call reaches only public endpoints; enable public access (aws eks update-cluster-config --name NAME --resources-vpc-config endpointPublicAccess=true,publicAccessCidrs=0.0.0.0/0)');
  } else if (info.publicAccessCidrs && !info.publicAccessCidrs.includes('0.0.0.0/0')) {
    problems.push(
      `its public endpoint accepts only ${info.publicAccessCidrs.join(', ')}: Step Functions eks:call comes from AWS's own addresses, which no CIDR list can name, so every call would be refused; open it to 0.0.0.0/0 (aws eks update-cluster-config --name NAME --resources-vpc-config publicAccessCidrs=0.0.0.0/0; the access entry still authenticates and authorizes every call)`,
    );
  }
  if (info.authenticationMode === 'CONFIG_MAP') {
    problems.push("its authentication mode is CONFIG_MAP; set it to API_AND_CONFIG_MAP (or API) so the stack's access entry applies");
  }
  return problems;
}

/** Why the runner's pods would not get this stack's S3 access through EKS Pod Identity. */
export function runnerAccessProblems(access: { roleArn: string | null; agentInstalled?: boolean }, expected: string, namespace: string, serviceAccount: string): string[] {
  if (access.agentInstalled === false) {
    return [
      `the ${POD_IDENTITY_AGENT_ADDON} add-on is not installed, so the runner pod would get no credentials to write its results; install it (aws eks create-addon --cluster-name NAME --addon-name ${POD_IDENTITY_AGENT_ADDON}). On a Fargate profile Pod Identity does not work at all: run the benchmark namespace on EC2 nodes`,
    ];
  }
  if (access.roleArn === null) {
    return [`service account ${namespace}/${serviceAccount} has no EKS Pod Identity association, so the runner could not write its results; deploy the stack again (it creates the association)`];
  }
  if (access.roleArn !== expected) {
    return [`service account ${namespace}/${serviceAccount} is associated with ${access.roleArn}, not this stack's runner role ${expected} (another stack uses the same service account?); one association per service account: give this stack its own runnerServiceAccount`];
  }
  return [];
}
