import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { verifyEksToken } from '../../aws/eks-token.ts';
import type { LocalCredentials } from '../iam.ts';
import type { AccessEntry } from './access.ts';
import type { LocalCluster } from './cluster.ts';
import { createLocalCa } from './local-ca.ts';
import { KubernetesApiError } from './objects.ts';
import { closeServer, listenOnLoopback } from '../loopback-server.ts';

/**
 * The local cluster's Kubernetes REST API over HTTPS, as a private EKS cluster's endpoint serves it
 * to a Lambda in its VPC: TLS with a certificate of the local CA (the client must trust the CA it
 * was given, as with DescribeCluster's), bearer-token authentication as EKS does it (the token is
 * a presigned STS GetCallerIdentity bound to this cluster's name: eks-token.ts; the principal it
 * proves must have an access entry), and every authenticated call answered by the local cluster as
 * that principal's access entry — so the HTTPS path and `eks:call` meet the same objects, the same
 * authorization and the same Status bodies.
 *
 * A refused authentication is answered with Kubernetes' bare 401 Status, whatever the reason, as
 * the API server does (it tells the caller nothing); the reason goes to `onRefusal` for tests and
 * diagnostics, never to stdout.
 */

/** The API server's body for a request it could not authenticate. */
const UNAUTHORIZED_STATUS = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 } as const;

export interface KubernetesApiOptions {
  cluster: Pick<LocalCluster, 'callAs'>;
  /** The cluster the server is: a token must be signed for this name. */
  clusterName: string;
  region: string;
  /** Epoch ms, for the token's age: the local cloud's clock, not necessarily the wall's. */
  now: () => number;
  /** STS's side: the credentials an access key belongs to (local IAM's `principalOf(key)?.credentials`). */
  credentialsOf(accessKeyId: string): LocalCredentials | undefined;
  /** EKS's side: the access entry of the principal an access key belongs to, null if it has none. */
  accessOf(accessKeyId: string): AccessEntry | null;
  /** Why an authentication was refused (the caller only sees 401). */
  onRefusal?(reason: string): void;
}

export interface KubernetesApi {
  /** `https://127.0.0.1:<port>` (DescribeCluster's endpoint). */
  endpoint: string;
  /** Base64 of the CA's PEM, as DescribeCluster's certificateAuthority.data gives it. */
  certificateAuthority: string;
  /** Stops listening and closes every connection, idle keep-alive ones included. */
  stop(): Promise<void>;
}

type CallInput = Parameters<LocalCluster['callAs']>[0];
interface Answer {
  status: number;
  /** JSON text. */
  body: string;
}

export async function startKubernetesApi(o: KubernetesApiOptions): Promise<KubernetesApi> {
  const tls = await createLocalCa();
  const self = { endpoint: '', certificateAuthority: Buffer.from(tls.caPem).toString('base64') };
  const server = https.createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    void answer(req, o, self)
      .catch((err: unknown) => internalError(err))
      .then((a) => send(res, a));
  });
  self.endpoint = `https://127.0.0.1:${await listenOnLoopback(server)}`;
  return { ...self, stop: () => closeServer(server) };
}

/** Authenticate, read the call, let the cluster answer it as the caller's access entry. */
async function answer(req: IncomingMessage, o: KubernetesApiOptions, self: { endpoint: string; certificateAuthority: string }): Promise<Answer> {
  const refuse = (reason: string): Answer => {
    req.resume();
    o.onRefusal?.(reason);
    return { status: 401, body: JSON.stringify(UNAUTHORIZED_STATUS) };
  };
  const token = bearerToken(req.headers.authorization);
  if (token === null) return refuse('no bearer token (Authorization: Bearer …)');
  const verdict = await verifyEksToken(token, { clusterName: o.clusterName, region: o.region, now: o.now(), credentialsOf: (k) => o.credentialsOf(k) });
  if (!verdict.ok) return refuse(verdict.reason);
  const access = o.accessOf(verdict.accessKeyId);
  // Not `=== null`: to the cluster an undefined entry means "allow everything" (its own tests).
  if (!access) return refuse(`the principal of access key ${verdict.accessKeyId} has no access entry in ${o.clusterName}`);

  const url = new URL(req.url ?? '/', self.endpoint);
  const query = queryParameters(url.searchParams);
  let body: Record<string, unknown> | undefined;
  try {
    body = jsonObject(await readText(req));
  } catch (err) {
    if (err instanceof KubernetesApiError) return { status: err.status, body: err.message };
    throw err;
  }
  const input: CallInput = {
    ClusterName: o.clusterName,
    Endpoint: self.endpoint,
    CertificateAuthority: self.certificateAuthority,
    // Any method reaches the cluster: one it does not serve is answered 405, as the API server does.
    Method: (req.method ?? 'GET') as CallInput['Method'],
    Path: url.pathname,
    ...(query ? { QueryParameters: query } : {}),
    ...(body ? { RequestBody: body } : {}),
  };
  try {
    const out = await o.cluster.callAs(input, access);
    return { status: out.StatusCode, body: JSON.stringify(out.ResponseBody) };
  } catch (err) {
    if (err instanceof KubernetesApiError) return { status: err.status, body: err.message };
    throw err;
  }
}

/**
 * The token of an `Authorization: Bearer <token>` header, as the API server's bearer-token
 * authenticator reads it (scheme case-insensitive, the token the second word); null when there is none.
 */
export function bearerToken(header: string | undefined): string | null {
  const parts = (header ?? '').trim().split(' ');
  if (parts.length < 2 || parts[0]!.toLowerCase() !== 'bearer' || !parts[1]) return null;
  return parts[1];
}

/** Query parameters as `eks:call` takes them: every key with all its values; undefined when there are none. */
function queryParameters(params: URLSearchParams): Record<string, string[]> | undefined {
  const out: Record<string, string[]> = {};
  for (const [k, v] of params) (out[k] ??= []).push(v);
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A request body: nothing, or a JSON object; anything else is the API server's 400. */
function jsonObject(text: string): Record<string, unknown> | undefined {
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new KubernetesApiError(400, 'BadRequest', `couldn't get version/kind; json parse error: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new KubernetesApiError(400, 'BadRequest', 'the body of the request is not a JSON object');
  return value as Record<string, unknown>;
}

/** Anything but a Kubernetes refusal: the API server's 500 InternalError Status. */
function internalError(err: unknown): Answer {
  const message = err instanceof Error ? err.message : String(err);
  return { status: 500, body: new KubernetesApiError(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] }).message };
}

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, a: Answer): void {
  res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body);
}
