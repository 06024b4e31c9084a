import { readFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { aggregateRun } from '../../aggregator/aggregate-run.ts';
import { FsRunStore } from '../../aggregator/fs-run-store.ts';
import { InputError } from '../../core/errors.ts';
import { formatRunId, isRunId, randomSuffix, RUN_ID_RULE } from '../../core/run-spec/naming.ts';
import { flagLayer, layerConfig, parseScenario, presetConfig, readScenarioYaml, SEED_MODEL, tooFewRequestsProblems, withoutSecrets } from '../../core/scenario/index.ts';
import { resolveScenario } from '../../core/scenario/resolve.ts';
import type { Summary } from '../../core/summary/schema.ts';
import { startRunner } from '../../runner/start.ts';
import { planMetricsUrls } from '../../runner/server-metrics.ts';
import type { HubAccess } from '../../runner/tokenizer-source.ts';
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts';
import type { Clock } from '../../timing/clock.ts';
import { runDestination } from '../support/destination.ts';
import { fitWorkers } from '../support/workers.ts';
import { statusPrinter } from '../support/status-printer.ts';
import { formatSummary } from '../table.ts';
import { EXIT } from '../exit-codes.ts';

export interface RunCommandOptions {
  target?: string;
  model?: string;
  /** Preset scenario (default baseline); not with `config`. */
  scenario?: string;
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
  /** The replicas' Prometheus endpoints (default: the target's /metrics). */
  metricsUrl?: string[];
  /** false (`--no-metrics`): the server's metrics are not scraped. */
  metrics?: boolean;
  /** In the Job: the workflow's list of the target's pod IPs (JSON array), scraped at metricsPort/metricsPath. */
  metricsTargets?: string;
  metricsPort?: number;
  metricsPath?: string;
}

export interface RunCommandIo {
  clock: Clock;
  now: () => Date;
  random: () => number;
  interrupt: AbortSignal;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** The CPUs this process may use: a config asking for more worker threads gets this many, unless --workers says otherwise. */
  cpus: number;
  hub: HubAccess;
}

/**
 * `inference-baseline run`: resolve the scenario (preset or file + flags), start the simulator when
 * no --target is given, run, aggregate (unless the workflow will), print the table and verdict.
 * Returns the exit code: 0 valid, 3 invalid (a gate for CI and cron), 130 interrupted.
 */
export async function runCommand(opts: RunCommandOptions, io: RunCommandIo): Promise<number> {
  if (opts.config && opts.scenario) {
    throw new InputError('--scenario with --config', [`--config ${opts.config} replaces the preset, so --scenario ${opts.scenario} would be ignored`], 'pass one of them; to record the run under a name, use --name.');
  }
  const { raw, source } = await loadRawConfig(opts);
  if (opts.runId !== undefined && !isRunId(opts.runId)) {
    throw new InputError('--run-id', [`"${opts.runId}" is not a valid run id`], `use ${RUN_ID_RULE}, or omit it to get one.`);
  }
  const runId = opts.runId ?? formatRunId(io.now().getTime(), randomSuffix(io.random));
  // The destination is checked before anything is measured: a wrong bucket, missing credentials or
  // a run id already used fail now, in words, not after a 300 s run.
  const destination = runDestination(opts.out, runId, opts.shard.index, opts.s3Endpoint);
  await destination.check();

  // The user's server whenever they named one: --target, else their config's server.base_url. The
  // simulator only when nothing names a server (a preset's base_url is the seed's in-cluster service).
  const configured = opts.config ? (raw as { server?: { base_url?: unknown } }).server?.base_url : undefined;
  const named = opts.target ?? (typeof configured === 'string' ? configured : undefined);
  const workers = fitWorkers(raw, opts.workers, io.cpus);

  let sim: RunningSimulator | undefined;
  try {
    if (!named) {
      const model = opts.model ?? (raw as { server?: { model_name?: string } }).server?.model_name ?? SEED_MODEL.servedName;
      sim = await startSimulator({ models: [model], keepGroundTruth: false });
    }
    const merged = layerConfig(raw, flagLayer(raw, { rate: opts.rate, duration: opts.duration, model: opts.model, baseUrl: named ?? sim!.url, seed: opts.seed, workers: workers.count }));
    // Parsed before the first line: a config's base_url that is no server's address is refused, not printed as the target.
    const scenario = resolveScenario(parseScenario(merged, source));
    io.stderr.write(
      named
        ? `target: ${named} (${opts.target ? '--target' : `server.base_url of ${opts.config}`})\n`
        : `target: the built-in vLLM-compatible simulator at ${sim!.url} (pass --target URL to measure a real server)\n`,
    );
    // Named now, so an interrupted run (a second Ctrl-C quits at once) can be found and aggregated.
    io.stderr.write(`run ${runId}: results go to ${destination.location}\n`);
    if (workers.note) io.stderr.write(`${workers.note}\n`);
    const tooFew = tooFewRequestsProblems(scenario);
    if (tooFew.length > 0) throw new InputError(source, tooFew, 'plan more requests as suggested above (a run that cannot be valid is not started).');
    const metrics = planMetricsUrls({
      baseUrl: scenario.server.baseUrl,
      ...(opts.metricsUrl ? { metricsUrls: opts.metricsUrl } : {}),
      disabled: opts.metrics === false,
      ...(opts.metricsTargets ? { targets: { file: opts.metricsTargets, text: await readFile(opts.metricsTargets, 'utf8').catch(() => null), port: opts.metricsPort ?? 8000, path: opts.metricsPath ?? '/metrics' } } : {}),
    });
    if (metrics.note) io.stderr.write(`${metrics.note}\n`);
    const outDir = await destination.open();
    const progress = statusPrinter(io);
    const result = await startRunner({
      scenario,
      scenarioName: opts.name ?? (opts.config ? 'custom' : (opts.scenario ?? DEFAULT_SCENARIO)),
      configYaml: stringify(withoutSecrets(merged)),
      runId,
      outDir,
      shard: opts.shard,
      zone: opts.zone ?? null,
      clock: io.clock,
      interrupt: io.interrupt,
      graceMs: opts.grace * 1000,
      hub: io.hub,
      metricsUrls: metrics.urls,
      onStatus: progress.update,
      onNote: (line) => progress.note(line),
      ...destination.runnerHooks((line) => progress.note(line)),
    })
      .catch((err: unknown) => {
        // The runner names the server "--target"; a server the config named is named as the config does.
        if (err instanceof InputError && err.input === '--target' && !opts.target && named) throw new InputError(`server.base_url of ${opts.config}`, err.problems, err.fix);
        throw err;
      })
      .finally(() => progress.stop());

    // summary.json has one writer: the aggregator. It runs here when this process holds the whole
    // run (one shard) and the workflow will not run it (--no-aggregate is how the Job says so).
    const aggregateHere = opts.shard.count === 1 && opts.aggregate !== false;
    const aggregated = aggregateHere
      ? await aggregateRun(new FsRunStore(result.dir), { history: destination.history(), compare: { options: opts.window ? { windowSize: opts.window } : {} } })
      : null;
    const summary: Summary = aggregated?.summary ?? result.summary;
    io.stdout.write(`${formatSummary(summary, opts.shard.count > 1 && !aggregateHere ? { shard: opts.shard } : {})}\n`);
    io.stdout.write(await destination.deliver(aggregated));
    if (!aggregateHere) io.stdout.write(`(shard ${opts.shard.index} of ${opts.shard.count}: summary.json is written when the whole run is aggregated)\n`);
    if (result.partial) return EXIT.interrupted;
    // A shard that leaves aggregation to the workflow does not judge the run: one shard's numbers
    // are not the run's (and a Job that exits 3 would fail the workflow before Aggregate speaks).
    if (!aggregateHere) return EXIT.ok;
    return summary.validity.valid ? EXIT.ok : EXIT.invalid;
  } finally {
    await sim?.close();
    await destination.close();
  }
}

const DEFAULT_SCENARIO = 'baseline';

async function loadRawConfig(opts: RunCommandOptions): Promise<{ raw: unknown; source: string }> {
  if (!opts.config) {
    const name = opts.scenario ?? DEFAULT_SCENARIO;
    return { raw: presetConfig(name), source: `scenario "${name}"` };
  }
  let text: string;
  try {
    text = await readFile(opts.config, 'utf8');
  } catch (err) {
    throw new InputError(`--config ${opts.config}`, [`cannot be read: ${(err as Error).message}`], 'check the path.');
  }
  // Validated after flags are merged in, but reported against the file (--target may supply base_url).
  return { raw: readScenarioYaml(text, opts.config), source: opts.config };
}
