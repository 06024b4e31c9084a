import { mkdtemp, readdir, rm, rmdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { writeOutputs, type AggregateResult } from '../../aggregator/aggregate-run.ts';
import { fsHistoryFor } from '../../aggregator/fs-history-store.ts';
import { FsRunStore } from '../../aggregator/fs-run-store.ts';
import { createS3Client, parseS3Url, uploadDirectory } from '../../aws/s3.ts';
import { assertShardNotWritten, checkBucket, s3SetupProblem } from '../../aws/s3-access.ts';
import { s3HistoryFor } from '../../aws/s3-history-store.ts';
import { InputError, OperationFailed } from '../../core/errors.ts';
import type { HistoryFor } from '../../core/ports/history-store.ts';
import { historyRootOf, REQUESTS_DIR, RUN_MANIFEST_FILE, RUN_SPEC_FILE, SUMMARY_FILE } from '../../core/run-layout.ts';
import type { RunOptions } from '../../runner/types.ts';
import { EarlyUploads } from './early-uploads.ts';

/**
 * Where `run` puts a run — a local directory or an S3 prefix — as one object: checked before
 * anything is measured, the directory the runner writes into, the runner's hooks (files leave the
 * machine as they close), the series' history, and the delivery of the aggregated outputs.
 */
export interface RunDestination {
  /** `<out>/<runId>/`, as messages name it. */
  readonly location: string;
  /** A wrong bucket, missing credentials, an unwritable directory or a run id already used fail here, in words. */
  check(): Promise<void>;
  /** The directory the runner writes the run into (for S3, a staging copy). */
  open(): Promise<string>;
  runnerHooks(note: (line: string) => void): Pick<RunOptions, 'onFileClosed' | 'beforeLoad'>;
  /** The series' history: `<out>/history/` locally, beside `runs/` in S3. */
  history(): HistoryFor;
  /** Writes the aggregated outputs (null: this shard leaves them to the workflow) and whatever must leave the machine; returns where the results are, in words. */
  deliver(aggregated: AggregateResult | null): Promise<string>;
  /** Removes what only staged the run (never a run that could not be delivered: the error names it). */
  close(): Promise<void>;
}

/** Files only a run's own directory holds. */
const RUN_DIR_MARKERS = [RUN_MANIFEST_FILE, RUN_SPEC_FILE, SUMMARY_FILE, REQUESTS_DIR];

/** Where the run id came from, as a refusal names it (`run --run-id`, or the workflow's execution input). */
export interface RunIdSource {
  input: string;
  fix: string;
  /** The command also takes s3:// (run does, workflow does not): its fixes may suggest it. */
  s3?: boolean;
}

const RUN_ID_FLAG: RunIdSource = { input: '--run-id', fix: 'results of earlier runs are never overwritten: choose another --run-id, or omit it to get a new one.', s3: true };

export function runDestination(out: string, runId: string, shard: number, s3Endpoint?: string, runIdFrom: RunIdSource = RUN_ID_FLAG): RunDestination {
  return out.startsWith('s3://') ? new S3Destination(out, runId, shard, s3Endpoint) : new LocalDestination(out, runId, runIdFrom);
}

class LocalDestination implements RunDestination {
  readonly location: string;
  private readonly dir: string;

  constructor(
    private readonly out: string,
    private readonly runId: string,
    private readonly runIdFrom: RunIdSource,
  ) {
    this.dir = resolve(join(out, runId));
    this.location = this.dir;
  }

  /**
   * A local --out must be a directory we can write (or creatable: its nearest existing parent is a
   * writable directory), without this run in it yet. Checked before the target is touched, and
   * without creating anything: a run that fails its preflight leaves no empty directory behind.
   */
  async check(): Promise<void> {
    const abs = resolve(this.out);
    let probe = abs;
    let info = await stat(probe).catch(() => null);
    while (!info && dirname(probe) !== probe) {
      probe = dirname(probe);
      info = await stat(probe).catch(() => null);
    }
    if (info && !info.isDirectory()) {
      throw new InputError(`--out ${this.out}`, [probe === abs ? 'is a file, not a directory' : `${probe} is a file, not a directory`], `pass a directory (it is created if missing)${this.runIdFrom.s3 ? ' or an s3://bucket/prefix URL' : ''}.`);
    }
    // Really write, not access(W_OK): that says yes to root everywhere, also on /proc, /sys and
    // read-only mounts, where creating the run's directory then fails (or, on /proc, makes Node's
    // recursive mkdir spin) after the run was measured. The probe is removed at once.
    try {
      await rmdir(await mkdtemp(join(probe, '.inference-baseline-probe-')));
    } catch (err) {
      const code = (err as { code?: string }).code;
      throw new InputError(`--out ${this.out}`, [`cannot be written: creating a directory in ${probe} failed${code ? ` (${code})` : ''}`], `pass a directory you can write${this.runIdFrom.s3 ? ', or an s3://bucket/prefix URL' : ''}.`);
    }
    // `--out results/<runId>` (a run's own directory) would nest the new run inside the old one.
    const inOut = await readdir(abs).catch(() => [] as string[]);
    const runFiles = inOut.filter((n) => RUN_DIR_MARKERS.includes(n));
    if (runFiles.length > 0) {
      throw new InputError(`--out ${this.out}`, [`is a run's directory (it holds ${runFiles.join(', ')}); --out is the directory runs go under, as <out>/<runId>/`], `pass its parent (${dirname(abs)}), or another directory.`);
    }
    const existing = await readdir(this.dir).catch(() => []);
    if (existing.length > 0) {
      throw new InputError(this.runIdFrom.input, [`${this.dir} already holds a run`], this.runIdFrom.fix);
    }
  }

  async open(): Promise<string> {
    return this.dir;
  }

  runnerHooks(): Pick<RunOptions, 'onFileClosed' | 'beforeLoad'> {
    return {};
  }

  history(): HistoryFor {
    return fsHistoryFor(resolve(this.out));
  }

  async deliver(aggregated: AggregateResult | null): Promise<string> {
    if (!aggregated) return `results: ${this.dir}\n`;
    const outputs = await writeOutputs(new FsRunStore(this.dir), aggregated);
    return `results: ${this.dir}\n${outputs.report ? `report:  ${outputs.report}\n` : ''}`;
  }

  async close(): Promise<void> {}
}

/**
 * s3://bucket/prefix: the run is written to a local staging directory and uploaded to
 * <prefix>/<runId>/ (raw objects are never overwritten; see runtime/aws/s3.ts uploadDirectory).
 * Completed files leave the machine during the run (a pod that dies mid-run keeps what it sent);
 * the upload at the end sends the rest and skips what is already there.
 */
class S3Destination implements RunDestination {
  readonly location: string;
  private readonly s3: S3Client;
  private staging: string | undefined;
  private dir: string | undefined;
  private early: EarlyUploads | undefined;
  private uploaded = false;

  constructor(
    out: string,
    runId: string,
    private readonly shard: number,
    private readonly endpoint?: string,
  ) {
    this.location = `${out.replace(/\/+$/, '')}/${runId}/`;
    this.s3 = createS3Client(endpoint ? { endpoint } : {});
  }

  async check(): Promise<void> {
    const loc = parseS3Url(this.location);
    await checkBucket(this.s3, loc, this.endpoint);
    await assertShardNotWritten(this.s3, loc, this.shard).catch((err: unknown) => {
      throw s3SetupProblem(err, this.location, this.endpoint) ?? err;
    });
  }

  async open(): Promise<string> {
    this.staging = await mkdtemp(join(tmpdir(), 'inference-baseline-'));
    this.dir = join(this.staging, parseS3Url(this.location).prefix.split('/').filter(Boolean).at(-1)!);
    return this.dir;
  }

  runnerHooks(note: (line: string) => void): Pick<RunOptions, 'onFileClosed' | 'beforeLoad'> {
    const early = (this.early = new EarlyUploads(this.s3, this.dir!, this.location, note, this.endpoint));
    // config.yml and run.json reach S3 before the first request: a bucket that refuses writes
    // stops the run there, before anything is measured.
    return { onFileClosed: (rel) => early.add(rel), beforeLoad: () => early.required() };
  }

  history(): HistoryFor {
    const { bucket, prefix } = parseS3Url(this.location);
    return s3HistoryFor(this.s3, bucket, historyRootOf(prefix));
  }

  async deliver(aggregated: AggregateResult | null): Promise<string> {
    const dir = this.dir!;
    // The history entry goes after the upload (it must not point at files not there yet), naming the prefix.
    if (aggregated) await writeOutputs(new FsRunStore(dir), { ...aggregated, history: null });
    await this.early?.settled();
    let count: number;
    try {
      count = (await uploadDirectory(this.s3, dir, this.location)).uploaded.length;
      if (aggregated?.history) await aggregated.history.store.put({ ...aggregated.history.entry, location: this.location });
    } catch (err) {
      const why = (s3SetupProblem(err, this.location, this.endpoint) ?? (err as Error)).message;
      throw new OperationFailed(
        `the run was measured but its upload to ${this.location} failed: ${why}\nThe results are kept in ${dir}; once the cause is fixed, upload them with: aws s3 cp --recursive ${dir} ${this.location}`,
      );
    }
    this.uploaded = true;
    return `results: ${this.location} (${(this.early?.uploaded ?? 0) + count} objects uploaded)\n`;
  }

  /** The staging copy goes once everything is uploaded, or when nothing was measured (no request records). */
  async close(): Promise<void> {
    if (this.staging && (this.uploaded || !(await holdsRecords(this.staging)))) await rm(this.staging, { recursive: true, force: true });
    this.s3.destroy();
  }
}

async function holdsRecords(dir: string): Promise<boolean> {
  const files = await readdir(dir, { recursive: true });
  return files.some((f) => f.includes(REQUESTS_DIR) && f.endsWith('.ndjson.gz'));
}
