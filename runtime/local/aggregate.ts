import { parse as parseYaml } from 'yaml';
import { reportData, type ReportData } from '../core/aggregate/report-data.ts';
import {
  finalizeInferencePerf,
  finalizeNative,
  RunAggregation,
  type AggregateSummary,
  type HistogramsFile,
  type InferencePerfLoadFacts,
} from '../core/aggregate/run-aggregation.ts';
import { InputError } from '../core/errors.ts';
import type { RunIdentity, RunRequest } from '../core/metrics/summary.ts';
import {
  InferencePerfConfig,
  InferencePerfLifecycle,
  inferencePerfFiles,
  inferencePerfSettings,
  lifecycleScheduleDelay,
  type InferencePerfSettings,
} from '../core/records/inference-perf.ts';
import { RunManifest, ShardManifest } from '../core/records/run-manifest.ts';
import { loadReportAssets, type ReportAssets } from '../report/assets.ts';
import { renderReport } from '../report/html.ts';
import { readInferencePerfRecords, readNativeShard } from './read-results.ts';
import type { RunStore, StoreEntry } from './run-store.ts';

/**
 * The aggregator, shared by the Aggregate Lambda and `inference-baseline aggregate`: every result
 * file under one run's directory/prefix → one set of merged HDR histograms → summary.json,
 * histograms.json and report.html, written beside the raw data.
 *
 * Outputs vs raw data: `requests/`, `raw/`, `run.json`, `run-spec.json` and `config.yml` are raw and
 * never written. summary.json, histograms.json and report.html are derived and are rewritten on every
 * aggregation; the aggregator's summary.json replaces the native runner's own (same core maths over
 * the same records, plus the `input` section), so re-running gives the same files.
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
}

export interface AggregateOptions {
  hints?: RunHints;
  /** Result files read at once (I/O overlap for S3). */
  concurrency?: number;
}

export interface AggregateResult {
  summary: AggregateSummary;
  histograms: HistogramsFile;
  report: ReportData;
}

const defaultValidity: RunRequest['validity'] = { maxScheduleDelayP99Ms: 10, maxRateDeviation: 0.05, maxErrorRate: 0 };
const partPattern = /^requests\/shard-\d{4}-\d{4}\.ndjson\.gz$/;

export async function aggregateRun(store: RunStore, opts: AggregateOptions = {}): Promise<AggregateResult> {
  const entries = await store.list();
  const keys = new Set(entries.map((e) => e.key));
  const parts = entries.filter((e) => partPattern.test(e.key));
  // inference-perf names its files `<report_file_prefix><name>`, at the root or under raw/.
  const perRequest = entries.filter((e) => e.key.endsWith(inferencePerfFiles.perRequest));

  if (parts.length > 0 || (keys.has('run.json') && perRequest.length === 0)) {
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
  throw new NoResultsError(
    store.location,
    [entries.length === 0 ? 'is empty: no results were written there' : `holds no results (found ${entries.slice(0, 5).map((e) => e.key).join(', ')}${entries.length > 5 ? ', …' : ''})`],
    'check the run id and prefix (runs/<scenario>/<model>/<runId>/), and the load generator\'s logs: did the Job run and could it write there?',
  );
}

async function aggregateNative(store: RunStore, keys: Set<string>, parts: StoreEntry[], opts: AggregateOptions): Promise<AggregateResult> {
  if (!keys.has('run.json')) {
    throw new InputError(within(store, 'run.json'), ['is missing, so the run cannot be identified (scenario, model, requested load)'], 'upload the run directory complete (the runner writes run.json before the first request).');
  }
  const manifest = parseJson(RunManifest, await store.readText('run.json'), within(store, 'run.json'));
  // The runner in a Job cannot see its node's zone; the workflow located it (LocateZone).
  if (manifest.identity.zone === null && opts.hints?.zone) manifest.identity.zone = opts.hints.zone;
  const shardManifests = new Map<number, ShardManifest>();
  const agg = new RunAggregation(manifest.request.ignoreEos, 'native');
  for (let shard = 0; shard < manifest.shards; shard++) {
    const key = `requests/shard-${String(shard).padStart(4, '0')}.json`;
    if (!keys.has(key)) continue;
    try {
      shardManifests.set(shard, parseJson(ShardManifest, await store.readText(key), key));
    } catch (e) {
      agg.tally.badFile(key, (e as Error).message);
    }
  }
  const perFile = await mapLimit(parts, opts.concurrency ?? 4, async (entry) => {
    const a = new RunAggregation(manifest.request.ignoreEos, 'native');
    await readNativeShard(await store.open(entry.key), entry.key, manifest.identity.runId, a);
    return a;
  });
  for (const a of perFile) agg.merge(a);
  const summary = finalizeNative({ manifest, shardManifests, partFiles: parts.map((p) => p.key.slice('requests/'.length)), agg });
  return { summary, histograms: agg.histograms(manifest.identity.runId), report: reportData(summary, agg) };
}

async function aggregateInferencePerf(store: RunStore, entries: StoreEntry[], perRequest: StoreEntry, opts: AggregateOptions): Promise<AggregateResult> {
  const base = perRequest.key.slice(0, perRequest.key.length - inferencePerfFiles.perRequest.length);
  const byKey = new Map(entries.map((e) => [e.key, e]));
  const hints = opts.hints ?? {};
  const problems: Array<[string, string]> = [];

  let settings: InferencePerfSettings | null = null;
  const configKey = `${base}${inferencePerfFiles.config}`;
  if (byKey.has(configKey)) {
    try {
      const parsed = InferencePerfConfig.safeParse(parseYaml(await store.readText(configKey)));
      if (parsed.success) settings = inferencePerfSettings(parsed.data);
      else problems.push([configKey, `not an inference-perf config: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`]);
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
  if (byKey.has('run.json')) {
    const manifest = parseJson(RunManifest, await store.readText('run.json'), within(store, 'run.json'));
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
    request = { arrival: settings?.arrival ?? 'normalized-exponential', stages, ignoreEos: settings?.ignoreEos ?? true, validity: hints.validity ?? defaultValidity };
  }

  const agg = new RunAggregation(request.ignoreEos, 'inference-perf');
  for (const [file, problem] of problems) {
    if (problem === 'missing') agg.tally.problem(file, 'missing');
    else agg.tally.badFile(file, problem);
  }
  const ctx = { runId: identity.runId, requestedInputTokens: settings?.inputTokens ?? null, requestedOutputTokens: settings?.outputTokens ?? null };
  await readInferencePerfRecords(await store.open(perRequest.key), perRequest.key, ctx, agg);
  const summary = finalizeInferencePerf({ identity, request, agg, facts });
  return { summary, histograms: agg.histograms(identity.runId), report: reportData(summary, agg) };
}

async function readLifecycle(store: RunStore, key: string, problems: Array<[string, string]>): Promise<InferencePerfLifecycle | null> {
  try {
    const parsed = InferencePerfLifecycle.safeParse(JSON.parse(await store.readText(key)));
    if (parsed.success) return parsed.data;
    problems.push([key, `not an inference-perf lifecycle file: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`]);
  } catch (e) {
    problems.push([key, `unreadable: ${(e as Error).message}`]);
  }
  return null;
}

/** Writes summary.json, histograms.json and report.html beside the raw data; returns their locations. */
export async function writeOutputs(store: RunStore, result: AggregateResult, assets: ReportAssets = loadReportAssets()): Promise<{ summary: string; histograms: string; report: string }> {
  const summary = await store.writeDerived('summary.json', JSON.stringify(result.summary, null, 2) + '\n', 'application/json');
  const histograms = await store.writeDerived('histograms.json', JSON.stringify(result.histograms) + '\n', 'application/json');
  const report = await store.writeDerived('report.html', renderReport(result.report, assets), 'text/html; charset=utf-8');
  return { summary, histograms, report };
}

function parseJson<T>(schema: { safeParse(x: unknown): { success: true; data: T } | { success: false; error: { issues: Array<{ path: PropertyKey[]; message: string }> } } }, text: string, source: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InputError(source, [`is not valid JSON: ${(e as Error).message}`], 'restore the file from the runner\'s output.');
  }
  const res = schema.safeParse(raw);
  if (!res.success) {
    throw new InputError(source, res.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`), 'restore the file from the runner\'s output; it is written by this project\'s runner and should not be edited.');
  }
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
