import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { stringify } from 'yaml';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client, parseS3Url, putObject, uploadDirectory } from '../../aws/s3.ts';
import { InputError } from '../../core/errors.ts';
import { aggregateRun, writeOutputs } from '../../local/aggregate.ts';
import { FsRunStore } from '../../local/run-store.ts';
import { makeRunId, runIdPattern } from '../../core/run-id.ts';
import { applyFlags, parseScenario, presetConfig, readScenarioYaml } from '../../core/scenario/load.ts';
import { resolveScenario } from '../../core/scenario/resolve.ts';
import { runBenchmark, type RunStatus } from '../../runner/run.ts';
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts';
import type { Clock } from '../../timing/clock.ts';
import { formatSummary } from '../table.ts';

export interface RunCommandOptions {
  target?: string;
  model?: string;
  scenario: string;
  config?: string;
  duration?: number;
  rate?: number;
  out: string;
  runId?: string;
  shard: { index: number; count: number };
  grace: number;
  zone?: string;
  /** S3 endpoint override for --out s3://… (a local S3 server). */
  s3Endpoint?: string;
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
 * no --target is given, run, print the table and verdict. Returns the exit code: 0 valid, 3 invalid
 * (a gate for CI and cron), 130 interrupted.
 */
export async function runCommand(opts: RunCommandOptions, io: RunCommandIo): Promise<number> {
  const { raw, source } = await loadRawConfig(opts);
  if (opts.runId !== undefined && !runIdPattern.test(opts.runId) && !/^[a-z0-9][a-z0-9-]{0,62}$/.test(opts.runId)) {
    throw new InputError('--run-id', [`"${opts.runId}" is not a valid run id`], 'use lower-case letters, digits and dashes (at most 63), or omit it to get a time-based id.');
  }

  let sim: RunningSimulator | undefined;
  try {
    if (!opts.target) {
      const model = opts.model ?? (raw as { server?: { model_name?: string } }).server?.model_name ?? 'qwen3-8b';
      sim = await startSimulator({ models: [model] });
      io.stderr.write(`target: the built-in vLLM-compatible simulator at ${sim.url} (pass --target URL to measure a real server)\n`);
    }
    const merged = applyFlags(raw, { rate: opts.rate, duration: opts.duration, model: opts.model, baseUrl: opts.target ?? sim!.url });
    const config = parseScenario(merged, source);
    const scenario = resolveScenario(config);
    const runId = opts.runId ?? makeRunId(io.now(), io.random);
    // s3://bucket/prefix: the run is written to a local staging directory, then uploaded to
    // <prefix>/<runId>/ (raw objects are never overwritten; see runtime/aws/s3.ts uploadDirectory).
    const toS3 = opts.out.startsWith('s3://');
    if (toS3) parseS3Url(opts.out);
    const outDir = toS3 ? join(await mkdtemp(join(tmpdir(), 'inference-baseline-')), runId) : resolve(join(opts.out, runId));
    const progress = statusPrinter(io);
    const s3 = toS3 ? createS3Client(opts.s3Endpoint ? { endpoint: opts.s3Endpoint } : {}) : undefined;
    const dest = `${opts.out.replace(/\/+$/, '')}/${runId}/`;
    // Completed files leave the machine during the run (a pod that dies mid-run keeps what it sent);
    // the upload at the end sends the rest and skips what is already there.
    const early = s3 ? new EarlyUploads(s3, outDir, dest, (line) => progress.note(line)) : undefined;
    const result = await runBenchmark({
      scenario,
      scenarioName: opts.config ? (opts.scenario === 'baseline' ? 'custom' : opts.scenario) : opts.scenario,
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
    });
    progress.stop();
    if (s3 && early) {
      io.stdout.write(`${formatSummary(result.summary)}\n`);
      await early.settled();
      const report = await uploadDirectory(s3, result.dir, dest);
      io.stdout.write(`results: ${dest} (${early.uploaded + report.uploaded.length} objects uploaded; local copy ${result.dir})\n`);
    } else if (opts.shard.count === 1) {
      // On one machine the same aggregation as the cloud's runs at once: summary.json is rebuilt
      // from the shards just written (with the input checks), and report.html is drawn beside them.
      const store = new FsRunStore(result.dir);
      const aggregated = await aggregateRun(store);
      const outputs = await writeOutputs(store, aggregated);
      io.stdout.write(`${formatSummary(aggregated.summary)}\nresults: ${result.dir}\nreport:  ${outputs.report}\n`);
      if (result.manifest.partial) return 130;
      return aggregated.summary.validity.valid ? 0 : 3;
    } else {
      io.stdout.write(`${formatSummary(result.summary)}\nresults: ${result.dir} (shard ${opts.shard.index} of ${opts.shard.count}: aggregate the run once every shard is done)\n`);
    }
    if (result.manifest.partial) return 130;
    return result.summary.validity.valid ? 0 : 3;
  } finally {
    await sim?.close();
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

/** A live progress bar on a terminal; a JSON status line every 10 s otherwise (Kubernetes logs). */
function statusPrinter(io: RunCommandIo): { update: (s: RunStatus) => void; note: (line: string) => void; stop: () => void } {
  if (io.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: '{bar} {percentage}% | {value}/{total} sent | in flight {inFlight} | ok {succeeded} | failed {failed} | {elapsedS}s', stream: io.stderr, hideCursor: true, clearOnComplete: false },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update: (s) => {
        const payload = { inFlight: s.inFlight, succeeded: s.succeeded, failed: s.failed, elapsedS: Math.round(s.elapsedS) };
        if (!started) {
          bar.start(s.scheduled, s.sent, payload);
          started = true;
        } else bar.update(s.sent, payload);
      },
      // The bar redraws itself on its next update, so a note just takes the current line.
      note: (line) => io.stderr.write(started ? `\r\x1b[K${line}\n` : `${line}\n`),
      stop: () => started && bar.stop(),
    };
  }
  let lastPrinted = -Infinity;
  return {
    update: (s) => {
      if (s.phase === 'done' || s.elapsedS - lastPrinted >= 10) {
        lastPrinted = s.elapsedS;
        io.stderr.write(`${JSON.stringify({ status: s.phase, elapsed_s: round1(s.elapsedS), total_s: round1(s.totalS), scheduled: s.scheduled, sent: s.sent, in_flight: s.inFlight, succeeded: s.succeeded, failed: s.failed })}\n`);
      }
    },
    note: (line) => io.stderr.write(`${JSON.stringify({ note: line })}\n`),
    stop: () => undefined,
  };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** Uploads completed raw files one at a time while the run goes on; failures are left to the final upload. */
class EarlyUploads {
  private chain: Promise<void> = Promise.resolve();
  uploaded = 0;

  constructor(
    private readonly client: S3Client,
    private readonly dir: string,
    private readonly dest: string,
    private readonly note: (line: string) => void,
  ) {}

  add(rel: string): void {
    const { bucket, prefix } = parseS3Url(this.dest);
    this.chain = this.chain.then(async () => {
      try {
        await putObject(this.client, bucket, prefix + rel, await readFile(join(this.dir, rel)), { ifNoneMatch: true });
        this.uploaded += 1;
      } catch (err) {
        this.note(`upload of ${rel} failed (${(err as Error).message}); retrying at the end`);
      }
    });
  }

  settled(): Promise<void> {
    return this.chain;
  }
}
