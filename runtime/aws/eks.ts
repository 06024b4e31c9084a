import {
  DescribeAddonCommand,
  DescribeClusterCommand,
  DescribeFargateProfileCommand,
  DescribePodIdentityAssociationCommand,
  ListFargateProfilesCommand,
  ListPodIdentityAssociationsCommand,
  ResourceNotFoundException,
  type EKSClient,
} from '@aws-sdk/client-eks';
import { POD_IDENTITY_AGENT_ADDON, type ClusterAccessMode } from '../core/run-spec/stack-defaults.ts';

/** What the workflow needs to know about the cluster, read at run time (DescribeCluster). */
export interface ClusterInfo {
  name: string;
  status: string | undefined;
  /** https URL of the Kubernetes API (eks:call `Endpoint`). */
  endpoint: string | undefined;
  /** Base64 PEM of the cluster CA (eks:call `CertificateAuthority`). */
  certificateAuthority: string | undefined;
  endpointPublicAccess: boolean | undefined;
  /** Whether the endpoint answers on private addresses inside the cluster's VPC. */
  endpointPrivateAccess: boolean | undefined;
  /** The CIDRs the public endpoint accepts (EKS's default: 0.0.0.0/0). */
  publicAccessCidrs: string[] | undefined;
  authenticationMode: string | undefined;
  version: string | undefined;
  /** The cluster's OIDC issuer URL (IRSA's trust names it). */
  oidcIssuer: string | undefined;
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
      endpointPrivateAccess: cluster?.resourcesVpcConfig?.endpointPrivateAccess,
      publicAccessCidrs: cluster?.resourcesVpcConfig?.publicAccessCidrs,
      authenticationMode: cluster?.accessConfig?.authenticationMode,
      version: cluster?.version,
      oidcIssuer: cluster?.identity?.oidc?.issuer,
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

const VPC_ACCESS_FIX = 'deploy the stack with -c clusterAccess=vpc -c vpcSubnetIds=subnet-…,subnet-… -c vpcSecurityGroupIds=sg-… (a Lambda in the cluster\'s VPC makes the calls)';

/**
 * Why the workflow could not reach or authenticate to this cluster, as the stack calls it.
 * `public`: Step Functions' eks:call calls the API server from AWS's own addresses, which no CIDR
 * list can name — the public endpoint must be open to all (calls are still authenticated and
 * authorized: the stack's access entry). `vpc`: KubeCall runs in the cluster's VPC and needs the
 * endpoint's private access (without it, its calls would leave the VPC through NAT for the public
 * endpoint).
 */
export function clusterProblems(info: ClusterInfo, access: ClusterAccessMode = 'public'): string[] {
  const problems: string[] = [];
  if (info.status !== 'ACTIVE') problems.push(`its status is ${info.status ?? 'unknown'}, not ACTIVE`);
  if (!info.endpoint || !info.certificateAuthority) problems.push('DescribeCluster returned no endpoint or certificate authority');
  if (access === 'public' && info.endpointPublicAccess === false) {
    problems.push(`its API endpoint is private: Step Functions eks:call reaches only public endpoints; ${VPC_ACCESS_FIX}, or enable public access (aws eks update-cluster-config --name NAME --resources-vpc-config endpointPublicAccess=true,publicAccessCidrs=0.0.0.0/0)`);
  } else if (access === 'public' && info.publicAccessCidrs && !info.publicAccessCidrs.includes('0.0.0.0/0')) {
    problems.push(
      `its public endpoint accepts only ${info.publicAccessCidrs.join(', ')}: Step Functions eks:call comes from AWS's own addresses, which no CIDR list can name, so every call would be refused; ${VPC_ACCESS_FIX}, or open the endpoint to 0.0.0.0/0 (aws eks update-cluster-config --name NAME --resources-vpc-config publicAccessCidrs=0.0.0.0/0; the access entry still authenticates and authorizes every call)`,
    );
  }
  if (access === 'vpc' && info.endpointPrivateAccess === false) {
    problems.push(
      "its API endpoint has no private access, so the stack's KubeCall function in the VPC cannot reach it; enable it (aws eks update-cluster-config --name NAME --resources-vpc-config endpointPrivateAccess=true), or, if the public endpoint is open to 0.0.0.0/0, deploy the stack with -c clusterAccess=public",
    );
  }
  if (info.authenticationMode === 'CONFIG_MAP') {
    problems.push("its authentication mode is CONFIG_MAP; set it to API_AND_CONFIG_MAP (aws eks update-cluster-config --name NAME --access-config authenticationMode=API_AND_CONFIG_MAP) so the stack's access entry applies");
  }
  return problems;
}

/** The Fargate profiles whose selectors take pods of this namespace (Pod Identity does not work on Fargate). */
export async function fargateProfilesFor(client: Pick<EKSClient, 'send'>, cluster: string, namespace: string): Promise<string[]> {
  const names: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(new ListFargateProfilesCommand({ clusterName: cluster, ...(nextToken ? { nextToken } : {}) }));
    names.push(...(page.fargateProfileNames ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  const matching: string[] = [];
  for (const name of names) {
    const { fargateProfile } = await client.send(new DescribeFargateProfileCommand({ clusterName: cluster, fargateProfileName: name }));
    if ((fargateProfile?.selectors ?? []).some((s) => s.namespace === namespace)) matching.push(name);
  }
  return matching;
}

/** How the runner pod will get its credentials, as PrepareRun finds it. */
export type RunnerAccess =
  | { mode: 'pod-identity'; roleArn: string | null; agentInstalled: boolean; fargateProfiles: string[] }
  | { mode: 'irsa' };

const IRSA_FIX = 'deploy the stack with -c runnerCredentials=irsa -c oidcIssuer=<the cluster\'s OIDC issuer> (IAM roles for service accounts work on Fargate)';

/**
 * Why the runner's pods would not get this stack's S3 access: through EKS Pod Identity (the
 * association is this stack's, the agent add-on is there, no Fargate profile takes the namespace),
 * or through IRSA (the stack's runner role trusts this cluster's OIDC issuer).
 */
export function runnerAccessProblems(
  access: RunnerAccess,
  expected: { roleArn: string; oidcIssuer?: string | undefined },
  cluster: Pick<ClusterInfo, 'oidcIssuer'>,
  namespace: string,
  serviceAccount: string,
): string[] {
  if (access.mode === 'irsa') {
    const stack = expected.oidcIssuer ? `https://${expected.oidcIssuer}` : undefined;
    if (!cluster.oidcIssuer) return ['it has no OIDC issuer, so IAM roles for service accounts cannot work; deploy the stack with -c runnerCredentials=pod-identity'];
    if (stack !== cluster.oidcIssuer) {
      return [`the stack's runner role trusts the OIDC issuer ${stack ?? '(none)'}, but the cluster's is ${cluster.oidcIssuer}; deploy the stack again with -c oidcIssuer=${cluster.oidcIssuer}`];
    }
    return [];
  }
  if (access.fargateProfiles.length > 0) {
    return [`Fargate profile ${access.fargateProfiles.join(', ')} runs pods of namespace ${namespace}, where EKS Pod Identity does not work, so the runner pod would get no credentials to write its results; ${IRSA_FIX}`];
  }
  if (!access.agentInstalled) {
    return [
      `the ${POD_IDENTITY_AGENT_ADDON} add-on is not installed, so the runner pod would get no credentials to write its results; install it (aws eks create-addon --cluster-name NAME --addon-name ${POD_IDENTITY_AGENT_ADDON}), or ${IRSA_FIX}`,
    ];
  }
  if (access.roleArn === null) {
    return [`service account ${namespace}/${serviceAccount} has no EKS Pod Identity association, so the runner could not write its results; deploy the stack again (it creates the association)`];
  }
  if (access.roleArn !== expected.roleArn) {
    return [`service account ${namespace}/${serviceAccount} is associated with ${access.roleArn}, not this stack's runner role ${expected.roleArn} (another stack uses the same service account?); one association per service account: give this stack its own runnerServiceAccount`];
  }
  return [];
}
