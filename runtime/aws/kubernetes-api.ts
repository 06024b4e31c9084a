import { Agent, request } from 'undici';
import type { AwsCredentialIdentity } from '@smithy/types';
import { z } from 'zod';
import { eksToken } from './eks-token.ts';

/**
 * The Kubernetes REST call Step Functions' `eks:call` makes, made by our own code over HTTPS: the
 * same parameters in, the same result out (`ResponseBody`, `StatusCode`, `StatusText`), a refusal
 * thrown as `EKS.<status>` with the API server's `Status` body as its message — so the workflow's
 * states, Retry/Catch rules and causes are the same whichever of the two makes the call. It
 * authenticates with an EKS token signed by the caller's credentials and trusts only the cluster's
 * CA (the one DescribeCluster gives), as kubectl does with a kubeconfig from `aws eks
 * update-kubeconfig`.
 */

export const EksCallInput = z.object({
  ClusterName: z.string().min(1),
  Endpoint: z.url({ protocol: /^https$/ }),
  /** Base64 of the CA's PEM (DescribeCluster's certificateAuthority.data). */
  CertificateAuthority: z.string().min(1),
  Method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']),
  Path: z.string().startsWith('/'),
  QueryParameters: z.record(z.string(), z.array(z.string())).optional(),
  RequestBody: z.unknown().optional(),
});
export type EksCallInput = z.infer<typeof EksCallInput>;

export interface EksCallOutput {
  ResponseBody: unknown;
  StatusCode: number;
  StatusText: string;
}

export interface KubernetesApiDeps {
  region: string;
  /** The caller's credentials, fresh (a Lambda role's session rotates). */
  credentials(): Promise<AwsCredentialIdentity>;
  /** Epoch ms: when the token is signed. */
  now(): number;
  /** How long a call may take, end to end. */
  timeoutMs?: number;
}

const STATUS_TEXT: Record<number, string> = { 200: 'OK', 201: 'Created', 202: 'Accepted' };

/** One TLS agent per cluster CA: connections are reused across warm invocations, never across CAs. */
const agents = new Map<string, Agent>();
function agentFor(caBase64: string): Agent {
  let agent = agents.get(caBase64);
  if (!agent) {
    agent = new Agent({ connect: { ca: Buffer.from(caBase64, 'base64').toString('utf8'), rejectUnauthorized: true } });
    agents.set(caBase64, agent);
  }
  return agent;
}

/** A failure before any answer from the API server (unreachable, TLS refused), named apart from `EKS.<status>`. */
export class KubernetesUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubernetesApi.Unreachable';
  }
}

export async function callKubernetes(input: EksCallInput, deps: KubernetesApiDeps): Promise<EksCallOutput> {
  const url = new URL(input.Path, input.Endpoint);
  for (const [k, values] of Object.entries(input.QueryParameters ?? {})) for (const v of values) url.searchParams.append(k, v);
  const token = await eksToken({ clusterName: input.ClusterName, region: deps.region, credentials: await deps.credentials(), now: deps.now() });
  const body = input.RequestBody === undefined ? undefined : JSON.stringify(input.RequestBody);
  const timeout = deps.timeoutMs ?? 25_000;
  let res;
  try {
    res = await request(url, {
      method: input.Method,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body } : {}),
      dispatcher: agentFor(input.CertificateAuthority),
      headersTimeout: timeout,
      bodyTimeout: timeout,
      signal: AbortSignal.timeout(timeout),
    });
  } catch (err) {
    throw new KubernetesUnreachableError(unreachableMessage(url, err));
  }
  const text = await res.body.text();
  if (res.statusCode >= 200 && res.statusCode < 300) {
    return { ResponseBody: text === '' ? {} : JSON.parse(text), StatusCode: res.statusCode, StatusText: STATUS_TEXT[res.statusCode] ?? 'OK' };
  }
  // The API server's Status body, compact, is the cause (the workflow's classifier reads `"code":<status>` in it).
  const status = (() => {
    try {
      return JSON.stringify(JSON.parse(text));
    } catch {
      return JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: text.slice(0, 500), code: res.statusCode });
    }
  })();
  throw Object.assign(new Error(status), { name: `EKS.${res.statusCode}` });
}

function unreachableMessage(url: URL, err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code ?? '';
  const detail = `${code ? `${code}: ` : ''}${e.cause?.message ?? e.message ?? String(err)}`;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
    return `the Kubernetes API at ${url.origin} presented a certificate the cluster's CA did not sign (${detail}): the endpoint is not this cluster's`;
  }
  return `could not reach the Kubernetes API at ${url.origin} (${detail}): the Lambda's subnets must route to the endpoint's private addresses and the cluster's security group must admit its security groups on 443`;
}
