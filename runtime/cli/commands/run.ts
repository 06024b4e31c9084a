import { constants } from 'node:fs';
import { access, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { createS3Client, parseS3Url, uploadDirectory, type UploadReport } from '../../aws/s3.ts';
import { assertShardNotWritten, checkBucket, s3SetupProblem } from '../../aws/s3-access.ts';
import { aggregateRun, writeOutputs, type AggregateResult } from '../../aggregator/aggregate-run.ts';
import { s3HistoryFor } from '../../aws/s3-history-store.ts';
import { FsRunStore } from '../../aggregator/fs-run-store.ts';
import { fsHistoryFor } from '../../aggregator/fs-history-store.ts';
import { InputError, OperationFailed } from '../../core/errors.ts';
import { historyRootOf, REQUESTS_DIR } from '../../core/run-layout.ts';
import { formatRunId, randomSuffix, RUN_ID_PATTERN, RUN_ID_RULE } from '../../core/run-spec/naming.ts';
import { flagLayer, layerConfig, parseScenario, presetConfig, readScenarioYaml } from '../../core/scenario/index.ts';
import { resolveScenario } from '../../core/scenario/resolve.ts';
import type { Summary } from '../../core/summary/schema.ts';
import { startRunner } from '../../runner/start.ts';
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts';
import type { Clock } from '../../timing/clock.ts';
import { EarlyUploads } from '../support/early-uploads.ts';
import { statusPrinter } from '../support/status-printer.ts';
import { formatSummary } from '../table.ts';

export interface RunCommandOptions {
  target?: string;
  model?: string;
  scenario: string;
  /** The scenario name recorded for the run (default: the preset's name, or "custom" with --config). */
  name?: string;
  config?: string;
  duration?: number;
  rate?: number;
  out: string;
  runId?: string;
  seed?: number;
  /** `load.num_workers`: worker threads in this runner. */
  workers?: number;
  shard: { index: number; count: number };
  grace: number;
  zone?: string;
  /** S3 endpoint override for --out s3://… (a local S3 server). */
  s3Endpoint?: string;
  /** false: leave aggregation to the workflow (the Job passes --no-aggregate); summary.json has one writer. */
  aggregate?: boolean;
  /** Earlier valid runs the comparison's baseline is drawn from (default 7). */
  window?: number;
}

export interface RunCommandIo {
  clock: Clock;
  now: () => Date;
  random: () => number;
  interrupt: AbortSignal;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/**
 * `inference-baseline run`: resolve the scenario (preset or file + flags), start the simulator when
 * no --target is given, run, aggregate (unless the workflow will), print the table and verdict.
 * Returns the exit code: 0 valid, 3 invalid (a gate for CI and cron), 130 interrupted.
 */
export async function runCommand(opts: RunCommandOptions, io: RunCommandIo): Promise<number> {
  const { raw, source } = await loadRawConfig(opts);
  if (opts.runId !== undefined && !RUN_ID_PATTERN.test(opts.runId)) {
    throw new InputError('--run-id', [`"${opts.runId}" is not a valid run id`], `use ${RUN_ID_RULE}, or omit it to get one.`);
  }
  const toS3 = opts.out.startsWith('s3://');
  const runId = opts.runId ?? formatRunId(io.now().getTime(), randomSuffix(io.random));
  // The destination is checked before anything is measured: a wrong bucket, missing credentials or
  // a run id already used fail now, in words, not after a 300 s run.
  const s3 = toS3 ? createS3Client(opts.s3Endpoint ? { endpoint: opts.s3Endpoint } : {}) : undefined;
  const dest = `${opts.out.replace(/\/+$/, '')}/${runId}/`;
  if (s3) {
    const destLoc = parseS3Url(dest);
    await checkBucket(s3, destLoc, opts.s3Endpoint);
    await assertShardNotWritten(s3, destLoc, opts.shard.index).catch((err: unknown) => {
      throw s3SetupProblem(err, dest, opts.s3Endpoint) ?? err;
    });
  } else {
    await checkOutDir(opts.out, runId);
  }

  let sim: RunningSimulator | undefined;
  let staging: string | undefined;
  let uploaded = false;
  try {
    if (!opts.target) {
      const model = opts.model ?? (raw as { server?: { model_name?: string } }).server?.model_name ?? 'qwen3-8b';
      sim = await startSimulator({ models: [model], keepGroundTruth: false });
      io.stderr.write(`target: the built-in vLLM-compatible simulator at ${sim.url} (pass --target URL to measure a real server)\n`);
    }
    const merged = layerConfig(raw, flagLayer(raw, { rate: opts.rate, duration: opts.duration, model: opts.model, baseUrl: opts.target ?? sim!.url, seed: opts.seed, workers: opts.workers }));
    const scenario = resolveScenario(parseScenario(merged, source));
    // s3://bucket/prefix: the run is written to a local staging directory, then uploaded to
    // <prefix>/<runId>/ (raw objects are never overwritten; see runtime/aws/s3.ts uploadDirectory).
    staging = toS3 ? await mkdtemp(join(tmpdir(), 'inference-baseline-')) : undefined;
    const outDir = staging ? join(staging, runId) : resolve(join(opts.out, runId));
    const progress = statusPrinter(io);
    // Completed files leave the machine during the run (a pod that dies mid-run keeps what it sent);
    // the upload at the end sends the rest and skips what is already there.
    const early = s3 ? new EarlyUploads(s3, outDir, dest, (line) => progress.note(line), opts.s3Endpoint) : undefined;
    const result = await startRunner({
      scenario,
      scenarioName: opts.name ?? (opts.config ? 'custom' : opts.scenario),
      configYaml: stringify(merged),
      runId,
      outDir,
      shard: opts.shard,
      zone: opts.zone ?? null,
      clock: io.clock,
      interrupt: io.interrupt,
      graceMs: opts.grace * 1000,
      onStatus: progress.update,
      onNote: (line) => progress.note(line),
      onFileClosed: early ? (rel) => early.add(rel) : undefined,
      // config.yml and run.json reach S3 before the first request: a bucket that refuses writes
      // stops the run here, before anything is measured.
      beforeLoad: early ? () => early.required() : undefined,
    }).finally(() => progress.stop());

    // summary.json has one writer: the aggregator. It runs here when this process holds the whole
    // run (one shard) and the workflow will not run it (--no-aggregate is how the Job says so).
    let summary: Summary = result.summary;
    let report: string | undefined;
    let pendingHistory: AggregateResult['history'] = null;
    const aggregateHere = opts.shard.count === 1 && opts.aggregate !== false;
    if (aggregateHere) {
      const store = new FsRunStore(result.dir);
      // The series' history: <out>/history/<scenario>/<model>/ locally; beside runs/ in S3.
      const history = s3 ? s3HistoryFor(s3, parseS3Url(dest).bucket, historyRootOf(parseS3Url(dest).prefix)) : fsHistoryFor(resolve(opts.out));
      const aggregated = await aggregateRun(store, { history, compare: { options: opts.window ? { windowSize: opts.window } : {} } });
      // To S3, the entry goes after the upload (it must not point at files not there yet), naming the prefix.
      if (s3 && aggregated.history) pendingHistory = { ...aggregated.history, entry: { ...aggregated.history.entry, location: dest } };
      const outputs = await writeOutputs(store, s3 ? { ...aggregated, history: null } : aggregated);
      summary = aggregated.summary;
      report = outputs.report;
    }
    io.stdout.write(`${formatSummary(summary)}\n`);
    if (s3 && early) {
      await early.settled();
      let rep: UploadReport;
      try {
        rep = await uploadDirectory(s3, result.dir, dest);
        if (pendingHistory) await pendingHistory.store.put(pendingHistory.entry);
      } catch (err) {
        const why = (s3SetupProblem(err, dest, opts.s3Endpoint) ?? (err as Error)).message;
        throw new OperationFailed(
          `the run was measured but its upload to ${dest} failed: ${why}\nThe results are kept in ${result.dir}; once the cause is fixed, upload them with: aws s3 cp --recursive ${result.dir} ${dest}`,
        );
      }
      uploaded = true;
      io.stdout.write(`results: ${dest} (${early.uploaded + rep.uploaded.length} objects uploaded)\n`);
    } else {
      io.stdout.write(`results: ${result.dir}\n${report ? `report:  ${report}\n` : ''}`);
    }
    if (!aggregateHere) io.stdout.write(`(shard ${opts.shard.index} of ${opts.shard.count}: summary.json is written when the whole run is aggregated)\n`);
    if (result.partial) return 130;
    // A shard that leaves aggregation to the workflow does not judge the run: one shard's numbers
    // are not the run's (and a Job that exits 3 would fail the workflow before Aggregate speaks).
    if (!aggregateHere) return 0;
    return summary.validity.valid ? 0 : 3;
  } finally {
    await sim?.close();
    // The staging copy goes once everything is uploaded, or when nothing was measured (no request
    // records); a run that could not be uploaded keeps it (the error names it).
    if (staging && (uploaded || !(await holdsRecords(staging)))) await rm(staging, { recursive: true, force: true });
  }
}

async function holdsRecords(dir: string): Promise<boolean> {
  const files = await readdir(dir, { recursive: true });
  return files.some((f) => f.includes(REQUESTS_DIR) && f.endsWith('.ndjson.gz'));
}

/**
 * A local --out must be a directory we can write (or creatable: its nearest existing parent is a
 * writable directory), without this run in it yet. Checked before the target is touched, and
 * without creating anything: a run that fails its preflight leaves no empty directory behind.
 */
async function checkOutDir(out: string, runId: string): Promise<void> {
  const abs = resolve(out);
  let probe = abs;
  let info = await stat(probe).catch(() => null);
  while (!info && dirname(probe) !== probe) {
    probe = dirname(probe);
    info = await stat(probe).catch(() => null);
  }
  if (info && !info.isDirectory()) {
    throw new InputError(`--out ${out}`, [probe === abs ? 'is a file, not a directory' : `${probe} is a file, not a directory`], 'pass a directory (it is created if missing) or an s3://bucket/prefix URL.');
  }
  try {
    await access(probe, constants.W_OK);
  } catch {
    throw new InputError(`--out ${out}`, [`cannot be written: ${probe} is not writable by this user`], 'pass a directory you can write, or an s3://bucket/prefix URL.');
  }
  const existing = await readdir(join(abs, runId)).catch(() => []);
  if (existing.length > 0) {
    throw new InputError('--run-id', [`${join(abs, runId)} already holds a run`], 'results of earlier runs are never overwritten: choose another --run-id, or omit it to get a new one.');
  }
}

async function loadRawConfig(opts: RunCommandOptions): Promise<{ raw: unknown; source: string }> {
  if (!opts.config) return { raw: presetConfig(opts.scenario), source: `scenario "${opts.scenario}"` };
  let text: string;
  try {
    text = await readFile(opts.config, 'utf8');
  } catch (err) {
    throw new InputError(`--config ${opts.config}`, [`cannot be read: ${(err as Error).message}`], 'check the path.');
  }
  // Validated after flags are merged in, but reported against the file (--target may supply base_url).
  return { raw: readScenarioYaml(text, opts.config), source: opts.config };
}
