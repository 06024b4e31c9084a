import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { InputError } from '../core/errors.ts';
import { isDerived } from '../core/run-layout.ts';

/**
 * Thin S3 adapter: list, stream-read and write objects; `s3://` URLs; uploading a run directory
 * without ever overwriting raw results. No retry loops of its own (the SDK retries).
 */

export interface S3Location {
  bucket: string;
  /** Key prefix without a leading slash; ends with `/` unless empty. */
  prefix: string;
}

/** `s3://bucket/some/prefix` → `{bucket, prefix: 'some/prefix/'}`. */
export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url.trim());
  if (!m) throw new InputError(url, ['is not an S3 URL'], 'write it as s3://<bucket>/<prefix>, e.g. s3://my-results/runs/baseline/qwen3-8b/<runId>/');
  const bucket = m[1]!;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new InputError(url, [`"${bucket}" is not a valid bucket name (3–63 lower-case letters, digits, dots, hyphens)`], 'check the bucket name.');
  }
  const path = (m[2] ?? '').replace(/^\/+/, '').replace(/\/{2,}/g, '/');
  return { bucket, prefix: path === '' || path.endsWith('/') ? path : `${path}/` };
}

export function formatS3Url(loc: S3Location): string {
  return `s3://${loc.bucket}/${loc.prefix}`;
}

export interface S3ClientOptions {
  /** e.g. `http://127.0.0.1:4569` for s3rver / a local S3; turns on path-style addressing. */
  endpoint?: string;
  region?: string;
  credentials?: S3ClientConfig['credentials'];
}

/** An S3 client; with an endpoint override it uses path-style URLs and only the checksums a local server understands. */
export function createS3Client(o: S3ClientOptions = {}): S3Client {
  return new S3Client({
    ...(o.region ? { region: o.region } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
    ...(o.endpoint
      ? { endpoint: o.endpoint, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
      : {}),
  });
}

export interface ObjectInfo {
  key: string;
  size: number;
  lastModifiedMs: number;
}

/** Every object under a prefix (all pages). */
export async function* listObjects(client: S3Client, bucket: string, prefix: string): AsyncGenerator<ObjectInfo> {
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      if (o.Key === undefined) continue;
      yield { key: o.Key, size: o.Size ?? 0, lastModifiedMs: o.LastModified?.getTime() ?? 0 };
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

/** The object's body as a Node stream (read with backpressure; never buffered whole). */
export async function getObjectStream(client: S3Client, bucket: string, key: string): Promise<Readable> {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const body = res.Body;
  if (body instanceof Readable) return body;
  if (body && typeof (body as { transformToWebStream?: unknown }).transformToWebStream === 'function') {
    return Readable.fromWeb((body as { transformToWebStream(): import('node:stream/web').ReadableStream }).transformToWebStream());
  }
  throw new Error(`s3://${bucket}/${key}: the response has no readable body`);
}

export async function getObjectText(client: S3Client, bucket: string, key: string): Promise<string> {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (!res.Body) throw new Error(`s3://${bucket}/${key}: the response has no body`);
  return res.Body.transformToString('utf8');
}

/** Object metadata, or null when it does not exist. */
export async function headObject(client: S3Client, bucket: string, key: string): Promise<{ size: number; sha256: string | null } | null> {
  try {
    const res = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return { size: res.ContentLength ?? 0, sha256: res.Metadata?.[SHA256_METADATA] ?? null };
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

export interface PutOptions {
  contentType?: string;
  /** Fail instead of replacing an existing object (S3 conditional write, `If-None-Match: *`). */
  ifNoneMatch?: boolean;
  /** Stored as user metadata (`x-amz-meta-…`). */
  metadata?: Record<string, string>;
}

/** Raw objects carry the sha256 of their content, so a rewrite is recognised by content, not size. */
export const SHA256_METADATA = 'sha256';

/** Bodies larger than this go through a multipart upload (lib-storage). */
export const multipartThreshold = 16 * 1024 * 1024;

/** Writes one object: a PutObject for small bodies, a multipart Upload for streams and large bodies. */
export async function putObject(client: S3Client, bucket: string, key: string, body: string | Buffer | Readable, o: PutOptions = {}): Promise<void> {
  const small = typeof body === 'string' ? Buffer.byteLength(body) < multipartThreshold : Buffer.isBuffer(body) ? body.length < multipartThreshold : false;
  if (small) {
    await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: o.contentType, Metadata: o.metadata, ...(o.ifNoneMatch ? { IfNoneMatch: '*' } : {}) }),
    );
    return;
  }
  // lib-storage passes its params to CompleteMultipartUpload, so If-None-Match makes the object's
  // creation conditional there (S3 takes the header on PutObject and CompleteMultipartUpload only).
  await new Upload({
    client,
    params: { Bucket: bucket, Key: key, Body: body, ContentType: o.contentType, Metadata: o.metadata, ...(o.ifNoneMatch ? { IfNoneMatch: '*' } : {}) },
    partSize: 8 * 1024 * 1024,
    queueSize: 4,
  }).done();
}

/** Raw content already at a key that differs from what would be written there. */
export class RawConflictError extends InputError {
  constructor(url: string, keys: string[]) {
    super(url, keys.map((k) => `${k} already exists with different content`), 'raw results are never overwritten: upload this run under a new run id (prefix), or remove the old objects yourself if they are known to be wrong.');
    this.name = 'RawConflict';
  }
}

/** The sha256 of an existing object: its metadata, or (written by an older version) its bytes. */
async function storedSha256(client: S3Client, bucket: string, key: string, head: { sha256: string | null }): Promise<string> {
  if (head.sha256) return head.sha256;
  const hash = createHash('sha256');
  for await (const chunk of await getObjectStream(client, bucket, key)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Writes a raw object once: `If-None-Match: *`, its sha256 in its metadata. An object already there
 * with the same content is this upload retried (`identical`); one with other content is a
 * RawConflictError — never replaced.
 */
export async function putRawObject(client: S3Client, bucket: string, key: string, body: Buffer, contentType: string): Promise<'written' | 'identical'> {
  const sha256 = createHash('sha256').update(body).digest('hex');
  try {
    await putObject(client, bucket, key, body, { contentType, ifNoneMatch: true, metadata: { [SHA256_METADATA]: sha256 } });
    return 'written';
  } catch (e) {
    if (!(e instanceof S3ServiceException && e.$metadata.httpStatusCode === 412)) throw e;
    const head = await headObject(client, bucket, key);
    if (head && (await storedSha256(client, bucket, key, head)) === sha256) return 'identical';
    throw new RawConflictError(`s3://${bucket}/${key}`, [key]);
  }
}


export interface UploadReport {
  uploaded: string[];
  /** Raw objects already present with the same content (an upload retried): left untouched. */
  skipped: string[];
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Uploads a run directory to `s3://bucket/prefix/` (keys = paths relative to the directory). Raw
 * results (everything but summary.json, histograms.json and report.html) are never overwritten:
 * - each raw object is checked first: present with the same sha256 (its metadata, or its bytes when
 *   an older version wrote it) → skipped, a retried upload; present with other content → nothing
 *   more is uploaded and a RawConflictError lists the conflicts. Same size is not same content: a
 *   re-run with the same request count writes part files of the same length.
 * - raw objects are written with `If-None-Match: *` (on CompleteMultipartUpload for a multipart
 *   one), so a concurrent writer loses with 412 instead of replacing data.
 * Raw files are uploaded before derived ones, so a summary never points at missing records.
 */
export async function uploadDirectory(client: S3Client, localDir: string, s3Url: string): Promise<UploadReport> {
  const { bucket, prefix } = parseS3Url(s3Url);
  const files = await walk(localDir);
  const raw = files.filter((f) => !isDerived(f));
  const derived = files.filter((f) => isDerived(f));
  const report: UploadReport = { uploaded: [], skipped: [] };
  const toUpload: string[] = [];
  const conflicts: string[] = [];
  for (const rel of raw) {
    const existing = await headObject(client, bucket, prefix + rel);
    if (!existing) toUpload.push(rel);
    else if ((await storedSha256(client, bucket, prefix + rel, existing)) === (await fileSha256(join(localDir, rel)))) report.skipped.push(rel);
    else conflicts.push(rel);
  }
  if (conflicts.length > 0) throw new RawConflictError(formatS3Url({ bucket, prefix }), conflicts.slice(0, 10));
  for (const rel of toUpload) {
    const path = join(localDir, rel);
    const size = (await stat(path)).size;
    if (size < multipartThreshold) {
      if ((await putRawObject(client, bucket, prefix + rel, await readFile(path), contentTypeOf(rel))) === 'identical') report.skipped.push(rel);
      else report.uploaded.push(rel);
    } else {
      await putObject(client, bucket, prefix + rel, createReadStream(path), { contentType: contentTypeOf(rel), metadata: { [SHA256_METADATA]: await fileSha256(path) } });
      report.uploaded.push(rel);
    }
  }
  for (const rel of derived) {
    await putObject(client, bucket, prefix + rel, await readFile(join(localDir, rel)), { contentType: contentTypeOf(rel) });
    report.uploaded.push(rel);
  }
  return report;
}

async function walk(root: string): Promise<string[]> {
  const out: string[] = [];
  const rec = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, e.name);
      if (e.isDirectory()) await rec(full);
      else if (e.isFile()) out.push(relative(root, full).split(sep).join('/'));
    }
  };
  await rec(root);
  return out.sort();
}

export function contentTypeOf(key: string): string {
  if (key.endsWith('.json')) return 'application/json';
  if (key.endsWith('.html')) return 'text/html; charset=utf-8';
  if (key.endsWith('.gz')) return 'application/gzip';
  if (key.endsWith('.yml') || key.endsWith('.yaml')) return 'application/yaml';
  return 'application/octet-stream';
}

function isNotFound(e: unknown): boolean {
  if (e instanceof S3ServiceException) return e.$metadata.httpStatusCode === 404 || e.name === 'NotFound' || e.name === 'NoSuchKey';
  return false;
}
