import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { InputError, validate } from '../core/errors.ts';
import type { RunStore, StoreEntry } from '../core/ports/run-store.ts';
import {
  InferencePerfConfig,
  InferencePerfLifecycle,
  inferencePerfFiles,
  inferencePerfSettings,
  lifecycleScheduleDelay,
  type InferencePerfSettings,
} from '../core/records/inference-perf.ts';
import { RunManifest, ShardManifest, type RunIdentity, type RunRequest } from '../core/records/run-manifest.ts';
import {
  HISTOGRAMS_FILE,
  REPORT_FILE,
  RUN_MANIFEST_FILE,
  requestsPath,
  shardManifestName,
  shardPartPattern,
  SUMMARY_FILE,
} from '../core/run-layout.ts';
import { VALIDITY_DEFAULTS } from '../core/scenario/validity-rules.ts';
import { finalizeInferencePerf, finalizeNative, RunResults, type HistogramsFile, type InferencePerfLoadFacts } from '../core/summary/finalize.ts';
import { reportData, type ReportData } from '../core/report/report-data.ts';
import type { Summary } from '../core/summary/schema.ts';
import { loadReportAssets, type ReportAssets } from '../report/assets.ts';
import { estimateKeyMetrics } from '../core/compare/compare.ts';
import { compareWithHistory, historyEntry, type ComparisonRequest, type HistoryEntry } from '../core/history/index.ts';
import type { ServerFacts } from '../core/records/server-facts.ts';
import type { TargetPod } from '../core/summary/context.ts';
import type { HistoryFor, HistoryStore } from '../core/ports/history-store.ts';
import { runContext } from '../core/history/context.ts';
import { trendOf } from '../core/history/trend.ts';
import { readWorkload } from './workload.ts';
import { renderReport } from '../report/html.ts';
import { readInferencePerfRecords, readNativeShard } from './readers.ts';
import { describeRunsWithin, runsWithin } from './runs-within.ts';
import { readServerAccount } from './server-metrics.ts';
import { serverTtftOf } from '../core/history/attribution.ts';

/**
 * The aggregator, shared by the Aggregate Lambda, `inference-baseline aggregate`, `run` and the
 * benchmarks: every result file under one run's directory/prefix → one set of merged HDR
 * histograms → summary.json, histograms.json and report.html, written beside the raw data (the
 * derived files of core/run-layout.ts: recomputed on every aggregation, so re-running gives the
 * same files; raw files are never written).
 */

/** No result files under the run's prefix/directory (Step Functions matches on the name). */
export class NoResultsError extends InputError {
  constructor(input: string, problems: string[], fix?: string) {
    super(input, problems, fix);
    this.name = 'NoResults';
  }
}

/** Facts about the run that inference-perf's files do not hold (from the RunSpec, when there is one). */
export interface RunHints {
  runId?: string;
  scenario?: string;
  model?: string;
  zone?: string | null;
  runnerVersion?: string;
  validity?: RunRequest['validity'];
  /** The target pod the workflow found (RunSpec.observed): its images and node go into the run's context. */
  pod?: TargetPod | null;
}

export interface AggregateOptions {
  hints?: RunHints;
  /**
   * The series' history: the run is compared with it, and its own entry is written there by
   * writeOutputs. Without it the run is aggregated alone (summary.comparison null).
   */
  history?: HistoryFor;
  /** Window options and named reference runs (execution input `compare`). */
  compare?: ComparisonRequest;
  /** Result files read at once (I/O overlap for S3). */
  concurrency?: number;
}

export interface AggregateResult {
  summary: Summary;
  histograms: HistogramsFile;
  report: ReportData;
  /** This run's history entry and where it goes (writeOutputs writes it after the derived files). */
  history: { store: HistoryStore; entry: HistoryEntry; unreadable: string[] } | null;
}

/** What one reader (native or inference-perf) returns before the run is put in its series. */
interface Aggregated {
  summary: Summary;
  agg: RunResults;
  request: RunRequest;
  server: ServerFacts | null;
}


export async function aggregateRun(store: RunStore, opts: AggregateOptions = {}): Promise<AggregateResult> {
  const read = await readRun(store, opts);
  const { agg } = read;
  const context = runContext(read.summary, await readWorkload(store, read.summary, read.request), read.server, opts.hints?.pod ?? null);
  const estimates = estimateKeyMetrics(agg.acc.dists);
  let summary: Summary = { ...read.summary, context };
  let history: AggregateResult['history'] = null;
  let trend: ReportData['trend'] = null;
  if (opts.history) {
    const series = opts.history({ scenario: summary.run.scenario, model: summary.run.model });
    const { entries, unreadable } = await series.list();
    const comparison = compareWithHistory({ runId: summary.run.runId, startedAt: summary.run.startedAt, valid: summary.validity.valid, context, estimates, serverTtft: serverTtftOf(summary.server) }, entries, opts.compare);
    summary = { ...summary, comparison };
    history = { store: series, entry: historyEntry(summary, context, estimates, store.location), unreadable };
    trend = trendOf(entries.filter((e) => comparison.baselineRuns.includes(e.runId)), summary.run, estimates);
  }
  return { summary, histograms: agg.histograms(summary.run.runId), report: { ...reportData(summary, agg), trend }, history };
}

async function readRun(store: RunStore, opts: AggregateOptions): Promise<Aggregated> {
  const entries = await store.list();
  const keys = new Set(entries.map((e) => e.key));
  const parts = entries.filter((e) => shardPartPattern.test(e.key));
  // inference-perf names its files `<report_file_prefix><name>`, at the root or under raw/.
  const perRequest = entries.filter((e) => e.key.endsWith(inferencePerfFiles.perRequest));

  if (parts.length > 0 || (keys.has(RUN_MANIFEST_FILE) && perRequest.length === 0)) {
    if (parts.length === 0) {
      throw new NoResultsError(store.location, ['run.json is there but no request records (requests/shard-*.ndjson.gz) are'], 'check that the runner reached its first request and could write to this location; see its logs.');
    }
    return aggregateNative(store, keys, parts, opts);
  }
  if (perRequest.length > 1) {
    throw new InputError(store.location, [`holds ${perRequest.length} inference-perf per-request files (${perRequest.map((e) => e.key).join(', ')})`], 'point at the directory/prefix of one run.');
  }
  if (perRequest.length === 1) return aggregateInferencePerf(store, entries, perRequest[0]!, opts);

  if (entries.some((e) => e.key.endsWith(inferencePerfFiles.summary))) {
    throw new NoResultsError(
      store.location,
      ["holds inference-perf's summary but not its per_request_lifecycle_metrics.json, so there are no raw records to aggregate"],
      'run inference-perf with report.request_lifecycle.per_request: true (the project forces it in its rendered config).',
    );
  }
  throw noRunThere(store.location, entries);
}

/**
 * A location without a run's files. A local directory is usually the wrong one (a results
 * directory holding runs, an unrelated directory): said as such, with the run directory to pass. An
 * S3 prefix is where a Job should have written, so its fix is the run id, prefix and the Job's logs.
 */
function noRunThere(location: string, entries: readonly StoreEntry[]): NoResultsError {
  const runs = runsWithin(entries);
  if (runs.length > 0) {
    const { what, examples } = describeRunsWithin(location, runs);
    const named = examples.map((e, i) => `\`inference-baseline aggregate ${e}\`${i === 0 ? ' (the newest)' : ''}`).join(' or ');
    return new NoResultsError(location, [`${what}: aggregate reads one run's files`], `aggregate one run at a time: ${named}.`);
  }
  const none = `no run.json, no request records (${requestsPath('shard-*.ndjson.gz')}), no inference-perf ${inferencePerfFiles.perRequest}`;
  if (location.startsWith('s3://')) {
    return new NoResultsError(
      location,
      [entries.length === 0 ? 'is empty: no results were written there' : `holds no results (${none}; found ${entries.slice(0, 5).map((e) => e.key).join(', ')}${entries.length > 5 ? ', …' : ''})`],
      "check the run id and prefix (runs/<scenario>/<model>/<runId>/), and the load generator's logs: did the Job run and could it write there?",
    );
  }
  const held = entries.length === 0 ? 'is empty: it holds no run' : `holds ${entries.length} file${entries.length === 1 ? '' : 's'} but no run`;
  return new NoResultsError(
    location,
    [`${held} (${none})`],
    "pass a run's own directory — <out>/<runId>, the directory `run`/`workflow` printed after \"results:\" (it holds run.json and requests/) — or an inference-perf output directory.",
  );
}

async function aggregateNative(store: RunStore, keys: Set<string>, parts: StoreEntry[], opts: AggregateOptions): Promise<Aggregated> {
  if (!keys.has(RUN_MANIFEST_FILE)) {
    throw new InputError(within(store, RUN_MANIFEST_FILE), ['is missing, so the run cannot be identified (scenario, model, requested load)'], 'upload the run directory complete (the runner writes run.json before the first request).');
  }
  const manifest = parseJson(RunManifest, await store.readText(RUN_MANIFEST_FILE), within(store, RUN_MANIFEST_FILE));
  // The RunSpec names the run (what the dashboards and alarms watch), whatever the runner recorded;
  // the runner in a Job cannot see its node's zone: the workflow located it (LocateZone).
  if (opts.hints?.scenario) manifest.identity.scenario = opts.hints.scenario;
  if (opts.hints?.model) manifest.identity.model = opts.hints.model;
  if (manifest.identity.zone === null && opts.hints?.zone) manifest.identity.zone = opts.hints.zone;
  const shardManifests = new Map<number, ShardManifest>();
  const agg = new RunResults(manifest.request.ignoreEos, 'native');
  for (let shard = 0; shard < manifest.shards; shard++) {
    const key = requestsPath(shardManifestName(shard));
    if (!keys.has(key)) continue;
    try {
      shardManifests.set(shard, parseJson(ShardManifest, await store.readText(key), key));
    } catch (e) {
      agg.tally.badFile(key, (e as Error).message);
    }
  }
  const perFile = await mapLimit(parts, opts.concurrency ?? 4, async (entry) => {
    const a = new RunResults(manifest.request.ignoreEos, 'native');
    await readNativeShard(await store.open(entry.key), entry.key, manifest.identity.runId, a);
    return a;
  });
  for (const a of perFile) agg.merge(a);
  // Each part's records (good and bad) and whether it read to the end: a part cut between two gzip
  // members reads as complete, and only its shard's manifest count shows what is missing.
  const partReads = new Map(parts.map((p, i) => [p.key.slice(requestsPath('').length), { records: perFile[i]!.tally.records + perFile[i]!.tally.badRecords, complete: perFile[i]!.tally.badFiles === 0 }]));
  // Files of more than one run are not one run's numbers: refuse them, naming what does not belong.
  const strangers = [...shardManifests.entries()].filter(([, m]) => m.runId !== manifest.identity.runId).map(([shard, m]) => `${requestsPath(shardManifestName(shard))} belongs to run ${m.runId}`);
  for (const id of agg.foreignRuns) strangers.push(`request records of run ${id} are among the parts (see summary input problems)`);
  if (strangers.length > 0) {
    throw new InputError(store.location, [`holds files of more than one run: run.json is run ${manifest.identity.runId}; ${strangers.join('; ')}`], 'aggregate each run from its own directory or prefix; raw files are never overwritten, so the mix came from copying runs together.');
  }
  const server = await readServerAccount(store, keys, { successDoneAt: agg.successDoneAt, preflightDoneAt: [...shardManifests.values()].flatMap((m) => m.preflightDoneAt ?? []) }, manifest.identity.model);
  const summary = finalizeNative({ manifest, shardManifests, partFiles: parts.map((p) => p.key.slice(requestsPath('').length)), agg, partReads, server });
  return { summary, agg, request: manifest.request, server: manifest.server ?? null };
}

async function aggregateInferencePerf(store: RunStore, entries: StoreEntry[], perRequest: StoreEntry, opts: AggregateOptions): Promise<Aggregated> {
  const base = perRequest.key.slice(0, perRequest.key.length - inferencePerfFiles.perRequest.length);
  const byKey = new Map(entries.map((e) => [e.key, e]));
  const hints = opts.hints ?? {};
  const problems: Array<[string, string]> = [];

  let settings: InferencePerfSettings | null = null;
  const configKey = `${base}${inferencePerfFiles.config}`;
  if (byKey.has(configKey)) {
    try {
      const parsed = validate(InferencePerfConfig, parseYaml(await store.readText(configKey)));
      if (parsed.ok) settings = inferencePerfSettings(parsed.data);
      else problems.push([configKey, `not an inference-perf config: ${parsed.problems[0]}`]);
    } catch (e) {
      problems.push([configKey, `unreadable: ${(e as Error).message.split('\n')[0]}`]);
    }
  }

  const facts: InferencePerfLoadFacts = { summary: null, stages: new Map(), endEpochMs: perRequest.lastModifiedMs };
  const summaryKey = `${base}${inferencePerfFiles.summary}`;
  if (byKey.has(summaryKey)) {
    const l = await readLifecycle(store, summaryKey, problems);
    if (l) facts.summary = { count: l.load_summary.count, scheduleDelay: lifecycleScheduleDelay(l), successes: l.successes?.count ?? null, failures: l.failures?.count ?? null };
  } else {
    problems.push([summaryKey, 'missing']);
  }
  for (const e of entries) {
    if (!e.key.startsWith(base)) continue;
    const m = inferencePerfFiles.stage.exec(e.key.slice(base.length));
    if (!m) continue;
    const l = await readLifecycle(store, e.key, problems);
    if (l) facts.stages.set(Number(m[1]), { count: l.load_summary.count, sendDurationS: l.load_summary.send_duration ?? null, requestedRate: l.load_summary.requested_rate ?? null });
  }

  // Identity and request: run.json (when the workflow wrote one) > RunSpec hints > inference-perf's config.
  let identity: RunIdentity;
  let request: RunRequest;
  if (byKey.has(RUN_MANIFEST_FILE)) {
    const manifest = parseJson(RunManifest, await store.readText(RUN_MANIFEST_FILE), within(store, RUN_MANIFEST_FILE));
    identity = manifest.identity;
    request = manifest.request;
  } else {
    let stages = settings?.stages ?? [];
    if (stages.length === 0) {
      stages = [...facts.stages.entries()].sort((a, b) => a[0] - b[0]).flatMap(([, s]) => (s.requestedRate && s.sendDurationS ? [{ rate: s.requestedRate, duration: s.sendDurationS }] : []));
    }
    if (stages.length === 0) {
      throw new InputError(store.location, [`inference-perf's ${configKey} is ${byKey.has(configKey) ? 'unreadable' : 'missing'} and no stage file names the requested rate, so the run cannot be judged`], 'upload the whole inference-perf output (config.yaml is written last; a missing one means the run did not finish).');
    }
    identity = {
      runId: hints.runId ?? lastSegment(store.location),
      scenario: hints.scenario ?? 'inference-perf',
      model: hints.model ?? settings?.model ?? 'unknown',
      target: settings?.target ?? 'unknown',
      zone: hints.zone ?? null,
      runner: { kind: 'inference-perf', version: hints.runnerVersion ?? 'unknown' },
      api: settings?.api ?? 'completion',
      streaming: settings?.streaming ?? false,
    };
    request = { arrival: settings?.arrival ?? 'normalized-exponential', stages, ignoreEos: settings?.ignoreEos ?? true, validity: hints.validity ?? { ...VALIDITY_DEFAULTS } };
  }

  const agg = new RunResults(request.ignoreEos, 'inference-perf');
  for (const [file, problem] of problems) {
    if (problem === 'missing') agg.tally.problem(file, 'missing');
    else agg.tally.badFile(file, problem);
  }
  const ctx = { runId: identity.runId, requestedInputTokens: settings?.inputTokens ?? null, requestedOutputTokens: settings?.outputTokens ?? null };
  await readInferencePerfRecords(await store.open(perRequest.key), perRequest.key, ctx, agg);
  const summary = finalizeInferencePerf({ identity, request, agg, facts });
  // inference-perf does not ask the server for its version: the context has no server facts.
  return { summary, agg, request, server: null };
}

async function readLifecycle(store: RunStore, key: string, problems: Array<[string, string]>): Promise<InferencePerfLifecycle | null> {
  try {
    const parsed = validate(InferencePerfLifecycle, JSON.parse(await store.readText(key)));
    if (parsed.ok) return parsed.data;
    problems.push([key, `not an inference-perf lifecycle file: ${parsed.problems[0]}`]);
  } catch (e) {
    problems.push([key, `unreadable: ${(e as Error).message}`]);
  }
  return null;
}

/**
 * Writes summary.json, histograms.json and report.html beside the raw data, then the run's history
 * entry (last: an entry never points at a summary that is not there); returns their locations.
 */
export async function writeOutputs(
  store: RunStore,
  result: AggregateResult,
  assets: ReportAssets = loadReportAssets(),
): Promise<{ summary: string; histograms: string; report: string; history: string | null }> {
  const summary = await store.writeDerived(SUMMARY_FILE, JSON.stringify(result.summary, null, 2) + '\n', 'application/json');
  const histograms = await store.writeDerived(HISTOGRAMS_FILE, JSON.stringify(result.histograms) + '\n', 'application/json');
  const report = await store.writeDerived(REPORT_FILE, renderReport(result.report, assets), 'text/html; charset=utf-8');
  const history = result.history ? await result.history.store.put(result.history.entry) : null;
  return { summary, histograms, report, history };
}

function parseJson<T extends z.ZodType>(schema: T, text: string, source: string): z.output<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InputError(source, [`is not valid JSON: ${(e as Error).message}`], "restore the file from the runner's output.");
  }
  const res = validate(schema, raw);
  if (!res.ok) throw new InputError(source, res.problems, "restore the file from the runner's output; it is written by this project's runner and should not be edited.");
  return res.data;
}

function within(store: RunStore, key: string): string {
  return store.location.endsWith('/') ? `${store.location}${key}` : `${store.location}/${key}`;
}

function lastSegment(location: string): string {
  const parts = location.split('/').filter((p) => p.length > 0);
  return parts[parts.length - 1] ?? location;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
