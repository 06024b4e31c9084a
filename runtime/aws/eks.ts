import { DescribeClusterCommand, ResourceNotFoundException, type EKSClient } from '@aws-sdk/client-eks';

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
