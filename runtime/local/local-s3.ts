import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '../aws/run-files.ts';
// @ts-expect-error s3rver ships no types
import S3rver from 's3rver';
import { LOCAL_ENV } from '../core/ports/local-stack.ts';
import type { LocalCredentials, LocalIam, Principal } from './iam.ts';
import { closeServer, listenOnLoopback } from './loopback-server.ts';

/**
 * A local S3 server with S3's semantics where this project relies on them. s3rver stores objects
 * and answers the S3 API (ListObjectsV2, multipart, NoSuchKey / NoSuchBucket), but it is kinder
 * than S3 in ways that hid real bugs, so a small proxy in front of it is stricter:
 *
 * - conditional writes: `If-None-Match: *` on an existing key → 412 PreconditionFailed;
 *   `If-Match: "<etag>"` → 412 on another ETag, 404 NoSuchKey when there is no object; the same
 *   `If-Match` on a DeleteObject. Writes and conditional deletes of one key are serialized, so
 *   check-and-write is atomic as S3's is;
 * - presigned URLs: the SigV4 query signature and its expiry are verified (s3rver accepts any);
 * - `aws-chunked` bodies (the SDK's default for stream uploads) are refused loudly: s3rver would
 *   store the chunk framing inside the object. Clients of the local server set
 *   `requestChecksumCalculation: WHEN_REQUIRED` (`AWS_REQUEST_CHECKSUM_CALCULATION`).
 *
 * Known gap: s3rver cannot page ListObjectsV2 beyond 1,000 keys on Node 20 (DES continuation tokens).
 */

/** The only access key s3rver knows. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
export const LOCAL_REGION = LOCAL_ENV.region;

export interface LocalS3 {
  /** `http://127.0.0.1:<port>`: the strict proxy (use this). */
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

export interface LocalS3Options {
  buckets: string[];
  directory?: string;
  /**
   * Object writes refused with 403 AccessDenied, as an IAM or bucket policy would refuse them
   * (`bucket/key` → true to deny): how tests reach S3's permission failures.
   */
  denyWrite?: (bucketAndKey: string) => boolean;
  /**
   * IAM: every request is authorized as its signer's role (local principals' credentials) against
   * that role's policies and the bucket's; unknown access keys are refused. Without it, only the
   * local administrator's credentials (LOCAL_CREDENTIALS) are accepted, and for everything.
   */
  iam?: LocalIam;
}

export async function startLocalS3(o: LocalS3Options): Promise<LocalS3> {
  const ownDirectory = o.directory === undefined;
  const directory = o.directory ?? (await mkdtemp(join(tmpdir(), 'ib-s3-')));
  const backend = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: o.buckets.map((name) => ({ name })) });
  const { port: backendPort } = (await backend.run()) as { port: number };
  const proxy = new StrictS3Proxy(backendPort, o.denyWrite, o.iam);
  const port = await proxy.listen();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    async stop() {
      await proxy.close();
      await new Promise<void>((resolve) => backend.close(() => resolve()));
      if (ownDirectory) await rm(directory, { recursive: true, force: true });
    },
  };
}

class StrictS3Proxy {
  private readonly server = http.createServer((req, res) => void this.handle(req, res));
  private readonly locks = new Map<string, Promise<void>>();

  constructor(
    private readonly backendPort: number,
    private readonly denyWrite?: (bucketAndKey: string) => boolean,
    private readonly iam?: LocalIam,
  ) {}

  listen(): Promise<number> {
    return listenOnLoopback(this.server);
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://local');
      const method = req.method ?? 'GET';
      const encoding = String(req.headers['content-encoding'] ?? '');
      const payloadHash = String(req.headers['x-amz-content-sha256'] ?? '');
      if (encoding.includes('aws-chunked') || payloadHash.startsWith('STREAMING-')) {
        return s3Error(res, 400, 'NotImplemented', 'The local S3 server does not decode aws-chunked bodies (s3rver would store the framing); create the client with requestChecksumCalculation WHEN_REQUIRED or set AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_REQUIRED.');
      }
      const principal = this.principalOf(req, url);
      if ('code' in principal) return s3Error(res, 403, principal.code, principal.message);
      if (url.searchParams.has('X-Amz-Signature')) {
        const problem = await presignProblem(req, url, principal.credentials);
        if (problem) return s3Error(res, 403, problem.code, problem.message);
      }
      if (this.iam) {
        const refusal = await this.authorize(principal, req, url);
        if (refusal) {
          await readBody(req);
          if (method === 'HEAD') return void res.writeHead(refusal.status).end();
          return s3Error(res, refusal.status, refusal.code, refusal.message);
        }
        // The backend knows one access key (it checks no SigV4 signature): a role's request goes on as its.
        asBackend(req, url, this.iam.admin.accessKeyId);
      }
      if (method === 'GET' && objectKey(url) === null && url.searchParams.get('list-type') === '2') return await this.listV2(req, res, url);
      const isObjectWrite = (method === 'PUT' && !url.searchParams.has('partNumber') && objectKey(url) !== null) || (method === 'POST' && url.searchParams.has('uploadId'));
      const isConditionalDelete = method === 'DELETE' && objectKey(url) !== null && !url.searchParams.has('uploadId') && req.headers['if-match'] !== undefined;
      if (isConditionalDelete) return await this.serialized(objectKey(url)!, () => this.conditionalDelete(req, res, url));
      if (!isObjectWrite) return await this.forward(req, res, await readBody(req));
      const key = objectKey(url)!;
      if (this.denyWrite?.(key)) {
        await readBody(req);
        return s3Error(res, 403, 'AccessDenied', 'Access Denied');
      }
      await this.serialized(key, async () => {
        const body = await readBody(req);
        const ifNoneMatch = req.headers['if-none-match'];
        const ifMatch = req.headers['if-match'];
        if (ifNoneMatch !== undefined || ifMatch !== undefined) {
          const head = await this.request('HEAD', url.pathname, {});
          const etag = head.status === 200 ? String(head.headers.etag ?? '') : null;
          if (ifNoneMatch !== undefined && (ifNoneMatch === '*' || ifNoneMatch === etag) && etag !== null) {
            return s3Error(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 'If-None-Match');
          }
          if (ifMatch !== undefined && etag === null) return s3Error(res, 404, 'NoSuchKey', 'The specified key does not exist.');
          if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== etag) {
            return s3Error(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 'If-Match');
          }
        }
        await this.forward(req, res, body);
      });
    } catch (err) {
      if (!res.headersSent) s3Error(res, 500, 'InternalError', `local S3 proxy: ${(err as Error).message}`);
      else res.destroy();
    }
  }

  /** DeleteObject with `If-Match`: 404 NoSuchKey without an object, 412 on another ETag (s3rver ignores the header). */
  private async conditionalDelete(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const body = await readBody(req);
    const head = await this.request('HEAD', url.pathname, {});
    if (head.status !== 200) return s3Error(res, 404, 'NoSuchKey', 'The specified key does not exist.');
    const ifMatch = String(req.headers['if-match']);
    if (ifMatch !== '*' && ifMatch !== String(head.headers.etag ?? '')) return s3Error(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 'If-Match');
    await this.forward(req, res, body);
  }

  /** The request's signer: a local principal, or the refusal S3 gives an unknown access key. */
  private principalOf(req: http.IncomingMessage, url: URL): Principal | { code: string; message: string } {
    const credential = url.searchParams.get('X-Amz-Credential') ?? /Credential=([^,\s]+)/.exec(String(req.headers.authorization ?? ''))?.[1] ?? '';
    const accessKey = credential.split('/')[0] ?? '';
    const known = this.iam ? this.iam.principalOf(accessKey) : accessKey === LOCAL_CREDENTIALS.accessKeyId ? ADMIN : undefined;
    return known ?? { code: 'InvalidAccessKeyId', message: `The AWS Access Key Id you provided does not exist in our records (${accessKey || 'none: the request is not signed'}).` };
  }

  /**
   * IAM's answer for this request, and S3's rule for a missing object: a GetObject or HeadObject
   * of a key that does not exist is 404 NoSuchKey only for a caller that may list the bucket
   * (s3:ListBucket); anyone else gets 403 AccessDenied, so that keys cannot be probed.
   */
  private async authorize(principal: Principal, req: http.IncomingMessage, url: URL): Promise<{ status: number; code: string; message: string } | null> {
    const asked = s3Action(req.method ?? 'GET', url, req.headers);
    const decision = await this.iam!.authorize(principal, asked.action, asked.resource, asked.context);
    if (!decision.allowed) return { status: 403, code: 'AccessDenied', message: decision.message };
    if (asked.action !== 's3:GetObject' || url.searchParams.has('uploadId')) return null;
    const head = await this.request('HEAD', url.pathname, {});
    if (head.status !== 404) return null;
    const [bucket, ...rest] = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const list = await this.iam!.authorize(principal, 's3:ListBucket', `arn:aws:s3:::${bucket}`, { 's3:prefix': rest.join('/') });
    return list.allowed ? null : { status: 403, code: 'AccessDenied', message: list.message };
  }

  /**
   * ListObjectsV2 paged as S3 pages it. s3rver's own V2 continuation tokens are DES-encrypted, which
   * OpenSSL 3 (Node ≥ 17) no longer offers, so any truncated V2 listing (more keys than max-keys)
   * fails with 500 there. The proxy asks s3rver the V1 way (`marker`) and answers in V2's shape,
   * its continuation token being the last key returned (base64url).
   */
  private async listV2(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    await readBody(req);
    const q = url.searchParams;
    const v1 = new URLSearchParams();
    for (const k of ['prefix', 'delimiter', 'max-keys', 'encoding-type']) if (q.has(k)) v1.set(k, q.get(k)!);
    const token = q.get('continuation-token');
    const marker = token ? Buffer.from(token, 'base64url').toString('utf8') : q.get('start-after');
    if (marker) v1.set('marker', marker);
    const up = await this.fetch('GET', `${url.pathname}?${v1.toString()}`, { ...req.headers, 'content-length': '0' });
    if (up.status !== 200) {
      res.writeHead(up.status, up.headers);
      res.end(up.body);
      return;
    }
    let xml = up.body.toString('utf8');
    const keys = [...xml.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => unescapeXml(m[1]!));
    const prefixes = [...xml.matchAll(/<CommonPrefixes>\s*<Prefix>([^<]*)<\/Prefix>\s*<\/CommonPrefixes>/g)].map((m) => unescapeXml(m[1]!));
    const truncated = /<IsTruncated>true<\/IsTruncated>/.test(xml);
    const last = [...keys, ...prefixes].sort().at(-1);
    xml = xml.replace(/<Marker>[^<]*<\/Marker>|<Marker\/>/, '').replace(/<NextMarker>[^<]*<\/NextMarker>/, '');
    const v2 = [
      `<KeyCount>${keys.length + prefixes.length}</KeyCount>`,
      token ? `<ContinuationToken>${escapeXml(token)}</ContinuationToken>` : '',
      !token && q.get('start-after') ? `<StartAfter>${escapeXml(q.get('start-after')!)}</StartAfter>` : '',
      truncated && last !== undefined ? `<NextContinuationToken>${Buffer.from(last, 'utf8').toString('base64url')}</NextContinuationToken>` : '',
    ].join('');
    xml = xml.replace('</ListBucketResult>', `${v2}</ListBucketResult>`);
    const body = Buffer.from(xml, 'utf8');
    res.writeHead(200, { 'content-type': 'application/xml', 'content-length': body.length });
    res.end(body);
  }

  private fetch(method: string, path: string, headers: http.OutgoingHttpHeaders): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const r = http.request({ host: '127.0.0.1', port: this.backendPort, method, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      r.on('error', reject);
      r.end();
    });
  }

  /** Runs `fn` after every earlier write of `key` finished. */
  private async serialized(key: string, fn: () => Promise<void>): Promise<void> {
    const before = this.locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const chained = before.then(() => mine);
    this.locks.set(key, chained);
    await before;
    try {
      await fn();
    } finally {
      release();
      if (this.locks.get(key) === chained) this.locks.delete(key);
    }
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      const headers = { ...req.headers };
      delete headers['if-none-match'];
      delete headers['if-match'];
      headers['content-length'] = String(body.length);
      delete headers['transfer-encoding'];
      const up = http.request({ host: '127.0.0.1', port: this.backendPort, method: req.method, path: req.url, headers }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
        upRes.on('end', () => resolve());
        upRes.on('error', reject);
      });
      up.on('error', reject);
      up.end(body);
    });
  }

  private request(method: string, path: string, headers: http.OutgoingHttpHeaders): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
    return new Promise((resolve, reject) => {
      const r = http.request({ host: '127.0.0.1', port: this.backendPort, method, path, headers }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      });
      r.on('error', reject);
      r.end();
    });
  }
}

const ADMIN: Principal = { roleArn: 'admin', sessionArn: `arn:aws:iam::${LOCAL_ENV.account}:root`, credentials: { ...LOCAL_CREDENTIALS } };

/**
 * The IAM action, resource and context keys S3 evaluates for a path-style request (the operations
 * this project's code and the SDK's multipart uploads use; others are named by method).
 */
export function s3Action(method: string, url: URL, headers: http.IncomingHttpHeaders): { action: string; resource: string; context: Record<string, string> } {
  const [bucket = '', ...rest] = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const q = url.searchParams;
  if (rest.length === 0) {
    const bucketArn = `arn:aws:s3:::${bucket}`;
    if (q.has('location')) return { action: 's3:GetBucketLocation', resource: bucketArn, context: {} };
    if (method === 'GET' || method === 'HEAD') {
      const context: Record<string, string> = { 's3:prefix': q.get('prefix') ?? '' };
      if (q.has('delimiter')) context['s3:delimiter'] = q.get('delimiter')!;
      if (q.has('max-keys')) context['s3:max-keys'] = q.get('max-keys')!;
      return { action: 's3:ListBucket', resource: bucketArn, context };
    }
    if (method === 'PUT') return { action: 's3:CreateBucket', resource: bucketArn, context: {} };
    return { action: `s3:${method}Bucket`, resource: bucketArn, context: {} };
  }
  const objectArn = `arn:aws:s3:::${bucket}/${rest.join('/')}`;
  const conditional: Record<string, string> = {};
  if (headers['if-none-match'] !== undefined) conditional['s3:if-none-match'] = String(headers['if-none-match']);
  if (headers['if-match'] !== undefined) conditional['s3:if-match'] = String(headers['if-match']);
  if (method === 'GET' && q.has('uploadId')) return { action: 's3:ListMultipartUploadParts', resource: objectArn, context: {} };
  if (method === 'GET' || method === 'HEAD') return { action: 's3:GetObject', resource: objectArn, context: {} };
  if (method === 'DELETE' && q.has('uploadId')) return { action: 's3:AbortMultipartUpload', resource: objectArn, context: {} };
  if (method === 'DELETE') return { action: 's3:DeleteObject', resource: objectArn, context: 'if-match' in headers ? { 's3:if-match': String(headers['if-match']) } : {} };
  // PutObject, CreateMultipartUpload, UploadPart and CompleteMultipartUpload are all s3:PutObject;
  // only PutObject and CompleteMultipartUpload create the object (and can carry a condition).
  const creates = method === 'PUT' ? !q.has('partNumber') : q.has('uploadId');
  return { action: 's3:PutObject', resource: objectArn, context: { ...conditional, 's3:ObjectCreationOperation': String(creates) } };
}

/** The request as the backend takes it: signed by its one access key (it checks no SigV4 signature). */
function asBackend(req: http.IncomingMessage, url: URL, backendKey: string): void {
  const auth = req.headers.authorization;
  if (auth) req.headers.authorization = auth.replace(/Credential=[^/]+\//, `Credential=${backendKey}/`);
  const credential = url.searchParams.get('X-Amz-Credential');
  if (credential) {
    url.searchParams.set('X-Amz-Credential', credential.replace(/^[^/]+\//, `${backendKey}/`));
    req.url = `${url.pathname}?${url.searchParams.toString()}`;
  }
}

/** `/<bucket>/<key…>` (path-style) → `bucket/key`, or null for bucket-level requests. */
function objectKey(url: URL): string | null {
  const parts = url.pathname.split('/').filter(Boolean);
  return parts.length >= 2 ? parts.join('/') : null;
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

function s3Error(res: http.ServerResponse, status: number, code: string, message: string, condition?: string): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message>${condition ? `<Condition>${condition}</Condition>` : ''}<RequestId>local</RequestId></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function unescapeXml(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

/** Re-signs a presigned request with its signer's credentials; a different signature or a past expiry is refused as S3 would. */
async function presignProblem(req: http.IncomingMessage, url: URL, credentials: LocalCredentials): Promise<{ code: string; message: string } | null> {
  const q = url.searchParams;
  const [, date, region] = (q.get('X-Amz-Credential') ?? '').split('/');
  const amzDate = q.get('X-Amz-Date') ?? '';
  const expires = Number(q.get('X-Amz-Expires'));
  const signedAt = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  if (!Number.isFinite(signedAt) || !Number.isFinite(expires) || !date || !region) return { code: 'AuthorizationQueryParametersError', message: 'X-Amz-Date, X-Amz-Expires and X-Amz-Credential must be well formed.' };
  if (Date.now() > signedAt + expires * 1000) return { code: 'AccessDenied', message: 'Request has expired' };
  const query: Record<string, string> = {};
  for (const [k, v] of q) if (k !== 'X-Amz-Signature') query[k] = v;
  const signer = new SignatureV4({ service: 's3', region, credentials, sha256: NodeSha256, uriEscapePath: false });
  const host = String(req.headers.host ?? '');
  const signed = await signer.presign(
    // S3 presigned URLs sign UNSIGNED-PAYLOAD as the payload hash; the header itself is not signed.
    { method: req.method ?? 'GET', protocol: 'http:', hostname: host.split(':')[0]!, path: url.pathname, query, headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } },
    { signingDate: new Date(signedAt), expiresIn: expires, unhoistableHeaders: new Set(['x-amz-content-sha256']), unsignableHeaders: new Set(['x-amz-content-sha256']) },
  );
  return signed.query?.['X-Amz-Signature'] === q.get('X-Amz-Signature')
    ? null
    : { code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match the signature you provided.' };
}
