import { createHash, createHmac } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/**
 * The two small S3 needs of PrepareRun: write a run's first files (never over an existing run) and
 * presign a GET of the runner bundle. The general S3 adapter lives in `s3.ts`.
 */

export interface RunFile {
  key: string;
  body: string;
  contentType: string;
}

/** A run prefix that already holds files: runs are never overwritten. */
export class RunExistsError extends Error {
  constructor(bucket: string, key: string) {
    super(`s3://${bucket}/${key} already exists: runs are never overwritten. Start again without "runId" (or with a new one).`);
    this.name = 'RunAlreadyExists';
  }
}

/**
 * PutObject each file with `If-None-Match: *` (S3 conditional write), so an existing run is never
 * replaced. A file already there with the same bytes is this run's own (a retried PrepareRun): it
 * counts as written.
 */
export async function writeRunFiles(client: Pick<S3Client, 'send'>, bucket: string, files: RunFile[]): Promise<void> {
  for (const file of files) {
    try {
      await client.send(
        new PutObjectCommand({ Bucket: bucket, Key: file.key, Body: file.body, ContentType: file.contentType, IfNoneMatch: '*' }),
      );
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name !== 'PreconditionFailed' && e.$metadata?.httpStatusCode !== 412) throw err;
      const existing = await client.send(new GetObjectCommand({ Bucket: bucket, Key: file.key }));
      if ((await existing.Body?.transformToString('utf8')) !== file.body) throw new RunExistsError(bucket, file.key);
    }
  }
}

/** The sha256 constructor @smithy/signature-v4 needs, from node:crypto. */
export class NodeSha256 {
  private readonly hash;
  constructor(secret?: string | Uint8Array | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', secret as Uint8Array);
  }
  update(data: string | Uint8Array | ArrayBufferView): void {
    this.hash.update(data as Uint8Array);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

export interface PresignArgs {
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  region: string;
  bucket: string;
  key: string;
  expiresInSeconds: number;
  /** Default: `<bucket>.s3.<region>.<dnsSuffix>` (virtual-hosted style, https). */
  host?: string;
  dnsSuffix?: string;
  /** A custom endpoint (`http://127.0.0.1:4569`, a local S3): path-style URLs on it. */
  endpoint?: string;
  signingDate?: Date;
}

/** A SigV4 query-string-signed GET URL (what `@aws-sdk/s3-request-presigner` produces for GetObject). */
export async function presignGetUrl(args: PresignArgs): Promise<string> {
  const custom = args.endpoint ? new URL(args.endpoint) : undefined;
  const protocol = custom?.protocol ?? 'https:';
  const host = custom ? custom.host : (args.host ?? `${args.bucket}.s3.${args.region}.${args.dnsSuffix ?? 'amazonaws.com'}`);
  const keyPath = args.key.split('/').map(encodeRfc3986).join('/');
  const path = custom ? `/${encodeRfc3986(args.bucket)}/${keyPath}` : `/${keyPath}`;
  const signer = new SignatureV4({ service: 's3', region: args.region, credentials: args.credentials, sha256: NodeSha256, uriEscapePath: false });
  const signed = await signer.presign(
    { method: 'GET', protocol, hostname: host.split(':')[0]!, ...(custom?.port ? { port: Number(custom.port) } : {}), path, query: {}, headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } },
    {
      expiresIn: args.expiresInSeconds,
      // The payload hash of a presigned GET is UNSIGNED-PAYLOAD; the header itself stays out of the URL.
      unhoistableHeaders: new Set(['x-amz-content-sha256']),
      unsignableHeaders: new Set(['x-amz-content-sha256']),
      ...(args.signingDate ? { signingDate: args.signingDate } : {}),
    },
  );
  const query = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${encodeRfc3986(k)}=${encodeRfc3986(String(v))}`)
    .join('&');
  return `${protocol}//${host}${path}?${query}`;
}

function encodeRfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
