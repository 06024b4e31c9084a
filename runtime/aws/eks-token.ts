import { timingSafeEqual } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity } from '@smithy/types';
import { NodeSha256 } from './run-files.ts';

/**
 * The bearer token EKS accepts from an IAM principal, as `aws eks get-token` and
 * aws-iam-authenticator make it: a presigned STS GetCallerIdentity URL whose signature covers the
 * header `x-k8s-aws-id: <cluster name>`, base64url-encoded after `k8s-aws-v1.`. The API server
 * replays the request to STS with its own cluster name in that header, so a token signed for
 * another cluster fails STS's signature check; it honours a token for 15 minutes after its
 * X-Amz-Date (the URL itself is presigned for 60 s, as the CLI does). Creating one calls nothing: it
 * is signed locally with the caller's credentials.
 */

export const EKS_TOKEN_PREFIX = 'k8s-aws-v1.';
export const CLUSTER_ID_HEADER = 'x-k8s-aws-id';
/** How long EKS honours a token after it was signed (aws-iam-authenticator's presignedURLExpiration). */
export const EKS_TOKEN_LIFETIME_MS = 15 * 60_000;
const PRESIGN_SECONDS = 60;
const STS_VERSION = '2011-06-15';

export function stsHost(region: string): string {
  return `sts.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

export interface EksTokenArgs {
  clusterName: string;
  region: string;
  credentials: AwsCredentialIdentity;
  /** Epoch ms: the signing time. */
  now: number;
}

export async function eksToken(a: EksTokenArgs): Promise<string> {
  return EKS_TOKEN_PREFIX + Buffer.from(await presignedUrl(a, PRESIGN_SECONDS)).toString('base64url');
}

async function presignedUrl(a: EksTokenArgs, expiresIn: number, query: Record<string, string> = { Action: 'GetCallerIdentity', Version: STS_VERSION }): Promise<string> {
  const host = stsHost(a.region);
  const signer = new SignatureV4({ service: 'sts', region: a.region, credentials: a.credentials, sha256: NodeSha256 });
  const signed = await signer.presign(
    { method: 'GET', protocol: 'https:', hostname: host, path: '/', query, headers: { host, [CLUSTER_ID_HEADER]: a.clusterName } },
    { expiresIn, signingDate: new Date(a.now) },
  );
  const text = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return `https://${host}/?${text}`;
}

export type TokenVerdict = { ok: true; accessKeyId: string } | { ok: false; reason: string };

export interface VerifyArgs {
  /** The cluster the API server is (what it puts in `x-k8s-aws-id`). */
  clusterName: string;
  region: string;
  now: number;
  /** STS's side: the credentials an access key belongs to (undefined: no such key). */
  credentialsOf(accessKeyId: string): AwsCredentialIdentity | undefined;
}

/**
 * What the API server and STS together decide about a bearer token: its form (aws-iam-authenticator's
 * checks), its age, and its signature recomputed over this cluster's name with the key's secret —
 * the check STS makes when the server replays the request. A reason for every refusal.
 */
export async function verifyEksToken(token: string, v: VerifyArgs): Promise<TokenVerdict> {
  const no = (reason: string): TokenVerdict => ({ ok: false, reason });
  if (!token.startsWith(EKS_TOKEN_PREFIX)) return no('not an EKS token (no k8s-aws-v1. prefix)');
  let url: URL;
  try {
    url = new URL(Buffer.from(token.slice(EKS_TOKEN_PREFIX.length), 'base64url').toString('utf8'));
  } catch {
    return no('the token is not a base64url-encoded URL');
  }
  const q = url.searchParams;
  if (url.protocol !== 'https:' || url.host !== stsHost(v.region) || url.pathname !== '/') return no(`the token is not for STS in ${v.region} (${url.host})`);
  if (q.get('Action') !== 'GetCallerIdentity' || q.get('Version') !== STS_VERSION) return no('the token is not a GetCallerIdentity request');
  if (q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') return no('the token is not signed with AWS4-HMAC-SHA256');
  const signedHeaders = (q.get('X-Amz-SignedHeaders') ?? '').split(';');
  if (!signedHeaders.includes(CLUSTER_ID_HEADER)) return no(`the token's signature does not cover ${CLUSTER_ID_HEADER}`);
  const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(q.get('X-Amz-Date') ?? '');
  if (!date) return no('the token has no X-Amz-Date');
  const signedAt = Date.UTC(Number(date[1]), Number(date[2]) - 1, Number(date[3]), Number(date[4]), Number(date[5]), Number(date[6]));
  if (v.now > signedAt + EKS_TOKEN_LIFETIME_MS) return no(`the token expired (signed ${new Date(signedAt).toISOString()}, valid 15 minutes)`);
  if (signedAt > v.now + 5 * 60_000) return no('the token was signed in the future');
  const accessKeyId = (q.get('X-Amz-Credential') ?? '').split('/')[0] ?? '';
  const credentials = v.credentialsOf(accessKeyId);
  if (!credentials) return no('the token is signed with an access key STS does not know');
  if ((q.get('X-Amz-Security-Token') ?? undefined) !== credentials.sessionToken) return no("the token's session token is not the key's");
  // STS signs the request as it arrives: every query parameter but the signing ones counts.
  const query = Object.fromEntries([...q.entries()].filter(([k]) => !k.startsWith('X-Amz-')));
  const expected = new URL(await presignedUrl({ clusterName: v.clusterName, region: v.region, credentials, now: signedAt }, Number(q.get('X-Amz-Expires') ?? PRESIGN_SECONDS), query)).searchParams.get('X-Amz-Signature') ?? '';
  const got = q.get('X-Amz-Signature') ?? '';
  if (got.length !== expected.length || !timingSafeEqual(Buffer.from(got), Buffer.from(expected))) {
    return no('the signature does not match (a token for another cluster, or altered)');
  }
  return { ok: true, accessKeyId };
}
