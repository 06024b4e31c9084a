import { constants } from 'node:fs';
import { access, appendFile, readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { buildEmf } from '../../aws/emf.ts';
import { createS3Client, parseS3Url } from '../../aws/s3.ts';
import { S3RunStore } from '../../aws/s3-run-store.ts';
import { checkBucket } from '../../aws/s3-access.ts';
import { s3HistoryFor } from '../../aws/s3-history-store.ts';
import { fsHistoryFor } from '../../aggregator/fs-history-store.ts';
import type { HistoryFor } from '../../core/ports/history-store.ts';
import { historyRootOf } from '../../core/run-layout.ts';
import { InputError } from '../../core/errors.ts';
import { defaultNamespace, runDimensions } from '../../core/summary/published.ts';
import type { Summary } from '../../core/summary/schema.ts';
import { aggregateRun, writeOutputs } from '../../aggregator/aggregate-run.ts';
import { FsRunStore } from '../../aggregator/fs-run-store.ts';
import type { RunStore } from '../../core/ports/run-store.ts';
import { holdsOnlyOurLines } from '../support/appended-file.ts';
import { formatSummary } from '../table.ts';
import { EXIT } from '../exit-codes.ts';

export interface AggregateCommandOptions {
  /** Append the run's CloudWatch EMF line (JSON) to this file. */
  emf?: string;
  /** S3 endpoint override (s3rver, MinIO, LocalStack); path-style addressing is used with it. */
  endpoint?: string;
  /** EMF namespace (default InferenceBaseline). */
  namespace?: string;
  /** false (`--no-history`): aggregate alone — no comparison, no history entry written. */
  history?: boolean;
  /** Earlier valid runs the comparison's baseline is drawn from (default 7). */
  window?: number;
}

export interface AggregateCommandDeps {
  stdout: NodeJS.WritableStream;
  /** Builds the S3 client for an s3:// target (tests pass one bound to s3rver). */
  s3Client?: (endpoint: string | undefined) => S3Client;
}

export interface AggregateCommandResult {
  /** 0 valid, 3 invalid (the same gate as `run`). Input errors throw `InputError`. */
  exitCode: number;
  summary: Summary;
  outputs: { summary: string; histograms: string; report: string };
}

/**
 * `inference-baseline aggregate <dir | s3://bucket/prefix> [--emf FILE] [--endpoint URL]`: the same
 * aggregation the Aggregate Lambda runs, on one machine — a native run directory or prefix, or any
 * inference-perf output directory. Writes summary.json, histograms.json and report.html beside the
 * results, prints the percentile table and verdict.
 */
export async function aggregateCommand(target: string, opts: AggregateCommandOptions, deps: AggregateCommandDeps): Promise<AggregateCommandResult> {
  if (opts.emf) await checkEmfFile(opts.emf);
  let store: RunStore;
  // The series' history beside the run: the bucket's history/ for runs/<scenario>/<model>/<runId>/
  // prefixes, else the run's parent (<out>/history/ for <out>/<runId>).
  let history: HistoryFor | undefined;
  if (target.startsWith('s3://')) {
    const loc = parseS3Url(target);
    const client = (deps.s3Client ?? ((endpoint) => createS3Client(endpoint ? { endpoint } : {})))(opts.endpoint);
    await checkBucket(client, loc, opts.endpoint);
    store = new S3RunStore(client, loc);
    history = s3HistoryFor(client, loc.bucket, historyRootOf(loc.prefix));
  } else {
    const dir = resolve(target);
    const info = await stat(dir).catch(() => null);
    if (!info?.isDirectory()) {
      throw new InputError(target, [info ? 'is a file, not a run directory' : 'does not exist'], 'pass the directory a run wrote (the one holding run.json, or an inference-perf output directory), or an s3://bucket/prefix URL.');
    }
    store = new FsRunStore(dir);
    history = fsHistoryFor(historyRootOf(dir) || '.');
  }
  const result = await aggregateRun(store, opts.history === false ? {} : { history, compare: { options: opts.window ? { windowSize: opts.window } : {} } });
  const outputs = await writeOutputs(store, result);
  if (opts.emf) {
    const doc = buildEmf(result.summary, { namespace: opts.namespace ?? defaultNamespace, dimensions: runDimensions(result.summary.run) });
    await appendFile(opts.emf, `${JSON.stringify(doc)}\n`).catch((err: Error) => {
      throw new InputError(`--emf ${opts.emf}`, [`cannot be written: ${err.message}`], 'pass a file in a directory you can write; summary.json and report.html are already written.');
    });
  }
  const s = result.summary;
  // Other problems: result files that are missing or cut short (they read to the end but hold fewer records than their manifest counts).
  const other = s.input.problems.length + s.input.omittedProblems - s.input.badFiles - s.input.badRecords;
  const input = s.input.badFiles || s.input.badRecords || other > 0 ? `\ninput: ${s.input.badFiles} unreadable file(s), ${s.input.badRecords} bad record(s)${other > 0 ? `, ${other} other problem(s)` : ''} — see summary.json "input"` : '';
  deps.stdout.write(
    `${formatSummary(s)}${input}\n\nsummary: ${outputs.summary}\nreport:  ${outputs.report}\n${outputs.history ? `history: ${outputs.history}\n` : ''}${opts.emf ? `emf:     ${opts.emf}\n` : ''}`,
  );
  return { exitCode: s.validity.valid ? EXIT.ok : EXIT.invalid, summary: s, outputs };
}

/**
 * `--emf FILE` appends one EMF line per run, so a file of earlier runs' lines is fine — any other
 * file is someone else's and is not appended to. Checked before aggregating, with what to do.
 */
async function checkEmfFile(path: string): Promise<void> {
  const where = `--emf ${path}`;
  const info = await stat(path).catch(() => null);
  if (info?.isDirectory()) throw new InputError(where, ['is a directory'], 'pass a file path, e.g. --emf run.emf.ndjson.');
  if (!info) {
    const parent = dirname(resolve(path));
    const ok = await access(parent, constants.W_OK).then(() => true, () => false);
    if (!ok) throw new InputError(where, [`cannot be created: ${parent} does not exist or is not writable`], 'pass a file in a directory you can write.');
    return;
  }
  const ok = await access(path, constants.W_OK).then(() => true, () => false);
  if (!ok) throw new InputError(where, ['is not writable by this user'], 'pass a file you can write, or a new path.');
  if (info.size === 0) return;
  if (!holdsOnlyOurLines(await readFile(path, 'utf8'), (line) => typeof line._aws === 'object')) throw new InputError(where, ['exists and does not hold EMF lines (its last line is not an EMF document): appending would mix metrics into an unrelated file'], 'pass a new file, or one that earlier --emf runs wrote.');
}
