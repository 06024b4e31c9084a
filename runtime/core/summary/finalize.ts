import { RunAccumulator } from '../metrics/accumulator.ts';
import type { DistributionStats, EncodedHistogram } from '../metrics/latency-histogram.ts';
import { InputTally, inputReasons, type InputReport } from '../records/input-report.ts';
import type { RequestRecord } from '../records/record.ts';
import { runCpuSteal, type RunIdentity, type RunManifest, type RunRequest, type ShardManifest } from '../records/run-manifest.ts';
import { requestsPath, shardManifestName } from '../run-layout.ts';
import type { Measured, StageLoad, Summary } from './schema.ts';
import { buildSchedule } from '../scenario/schedule.ts';
import { Timeline } from './timeline.ts';
import { judgeServerAccount, judgeValidity } from './validity.ts';
import type { ServerAccount } from './server-account.ts';

/** histograms.json: the merged HDR histograms (µs, compressed base64), so runs can be re-merged later. */
export interface HistogramsFile {
  v: 1;
  runId: string;
  unit: 'us';
  metrics: Record<string, EncodedHistogram>;
}

/**
 * Everything read from one run (or one file of it): the accumulator, the timeline for the report,
 * and the input tally. One per file while reading; merged into one (order does not matter:
 * histograms add, counters sum).
 */
export class RunResults {
  readonly acc: RunAccumulator;
  readonly timeline = new Timeline();
  readonly tally: InputTally;
  /** Run ids of records that belong to another run (the aggregator refuses a mixed run). */
  readonly foreignRuns = new Set<string>();
  /** When each successful request's last byte arrived: which of them the server's metrics window holds. */
  readonly successDoneAt: number[] = [];

  constructor(
    readonly ignoreEos: boolean,
    source: InputReport['source'],
  ) {
    this.acc = new RunAccumulator(ignoreEos);
    this.tally = new InputTally(source);
  }

  /** A record that already passed its checks (schema + times). */
  add(r: RequestRecord): void {
    if (r.error === null && r.doneAt !== null) this.successDoneAt.push(r.doneAt);
    this.acc.add(r);
    this.timeline.add(r);
    this.tally.recordUsed();
  }

  merge(other: RunResults): void {
    for (const id of other.foreignRuns) this.foreignRuns.add(id);
    for (const t of other.successDoneAt) this.successDoneAt.push(t);
    this.acc.merge(other.acc);
    this.timeline.merge(other.timeline);
    this.tally.merge(other.tally);
  }

  histograms(runId: string): HistogramsFile {
    return { v: 1, runId, unit: 'us', metrics: this.acc.encodedHistograms() };
  }
}

/**
 * Native run: identity and request from run.json; a shard whose `requests/shard-<i>.json` is missing
 * died before finishing (the run is partial); parts it lists but that are absent are named.
 */
export function finalizeNative(input: {
  manifest: RunManifest;
  shardManifests: Map<number, ShardManifest>;
  partFiles: string[];
  agg: RunResults;
  /**
   * What each part file (name within requests/) gave: its records, good and bad, and whether it
   * read to the end. A shard whose parts all read to the end but hold fewer records than its
   * manifest counts was cut short where gzip cannot tell (between two of its members).
   */
  partReads?: ReadonlyMap<string, { records: number; complete: boolean }>;
  /** The server's account from its metrics (server-metrics.ndjson), when they were scraped. */
  server?: ServerAccount | null;
}): Summary {
  const { manifest, shardManifests, agg } = input;
  const extra: string[] = [];
  const damaged: string[] = [];
  const missingShards: number[] = [];
  let partial = false;
  for (let shard = 0; shard < manifest.shards; shard++) {
    const sm = shardManifests.get(shard);
    if (!sm) {
      missingShards.push(shard);
      partial = true;
      continue;
    }
    if (sm.partial) partial = true;
    const present = new Set(input.partFiles);
    const missingParts = sm.parts.filter((p) => !present.has(p));
    for (const p of missingParts) agg.tally.problem(requestsPath(p), `listed by ${requestsPath(shardManifestName(shard))} but absent`);
    if (missingParts.length > 0) {
      damaged.push(`Shard ${shard} lists ${missingParts.length} result file(s) that are missing (${missingParts.slice(0, 3).join(', ')}): their requests are not in the numbers. Upload them from the runner's output or run again.`);
    } else if (input.partReads) {
      const reads = sm.parts.map((p) => input.partReads!.get(p));
      const held = reads.reduce((n, r) => n + (r?.records ?? 0), 0);
      if (reads.every((r) => r?.complete) && held < sm.records) {
        const files = sm.parts.map((p) => requestsPath(p));
        agg.tally.problem(files.length === 1 ? files[0]! : requestsPath(shardManifestName(shard)), `holds ${held} record(s) where ${requestsPath(shardManifestName(shard))} counts ${sm.records}: cut short`);
        damaged.push(
          `Shard ${shard}'s result file${files.length === 1 ? '' : 's'} (${files.slice(0, 3).join(', ')}${files.length > 3 ? ', …' : ''}) hold${files.length === 1 ? 's' : ''} ${held} record(s) but its manifest (${requestsPath(shardManifestName(shard))}) counts ${sm.records}: the file was cut short (a truncated copy or upload that still reads as valid gzip), so requests are missing from the numbers. Re-upload the file from the runner's copy or run again.`,
        );
      }
    }
  }
  if (missingShards.length > 0) {
    for (const s of missingShards) agg.tally.problem(requestsPath(shardManifestName(s)), 'missing: the shard did not finish');
    extra.push(`${missingShards.length} of ${manifest.shards} shard(s) never wrote their manifest (shard ${missingShards.slice(0, 5).join(', ')}): they did not finish, so the run is partial. Check those pods' logs (kubectl logs job/<name> --all-containers) and run again.`);
  }
  extra.push(...shardStartReasons(manifest, agg.acc));
  const base = agg.acc.measure(manifest.identity, manifest.request, { scheduled: manifest.scheduled, partial, cpuSteal: runCpuSteal(shardManifests.values()) });
  return finish(base, manifest.request, agg.tally.report(), extra, damaged, input.server ?? null);
}

/** How far apart the shards of one run may start before the load is no longer the one asked for. */
export const SHARD_START_TOLERANCE_MS = 2000;

/**
 * Shards of one run must run together: each shard's schedule start (its first scheduled request's
 * time, less that request's place in the plan) should be the same instant on every pod. A shard
 * that started late sent its slice late, so the merged load was not the one asked for.
 */
export function shardStartReasons(manifest: RunManifest, acc: RunAccumulator): string[] {
  if (manifest.shards < 2 || acc.shardFirsts.size < 2) return [];
  const r = manifest.request;
  if (!r.seed && r.arrival !== 'even') return [];
  const plan = buildSchedule(r.stages, r.arrival, r.intervalS ?? 0, r.seed?.value ?? 0);
  const starts = [...acc.shardFirsts.entries()].map(([shard, f]) => ({ shard, start: f.scheduledAt - (plan[f.seq]?.offsetMs ?? 0) })).sort((a, b) => a.start - b.start);
  const first = starts[0]!;
  const late = starts.filter((s) => s.start - first.start > SHARD_START_TOLERANCE_MS);
  if (late.length === 0) return [];
  const named = late.slice(0, 5).map((s) => `shard ${s.shard} started ${((s.start - first.start) / 1000).toFixed(1)} s after shard ${first.shard}`);
  return [`The shards did not run together (${named.join('; ')}${late.length > 5 ? '; …' : ''}), so the load was not the one asked for. Start the run's pods together (check image pulls and node capacity) and run again.`];
}

/** inference-perf facts that are not in its records. */
export interface InferencePerfLoadFacts {
  /** `summary_lifecycle_metrics.json`, null when missing or unreadable. */
  summary: { count: number; scheduleDelay: DistributionStats | null; successes: number | null; failures: number | null } | null;
  /** `stage_<i>_lifecycle_metrics.json` by stage index. */
  stages: Map<number, { count: number; sendDurationS: number | null; requestedRate: number | null }>;
  /** Epoch ms when the run ended (its per-request file's upload/modification time); see `anchorRunTimes`. */
  endEpochMs: number | null;
}

/**
 * inference-perf run: latency from its per-request records; schedule delay and per-stage rates from
 * its summary files (its records carry neither a scheduled time nor a stage).
 *
 * - `load.schedule_delay` = its summary's percentiles (count, mean, min, median → p50, p90, p95, p99,
 *   p99.9, max; seconds → ms); `scheduleDelaySource: 'inference-perf-summary'`. The p99 rule then
 *   applies as for native runs. Missing summary → schedule delay unknown → invalid.
 * - Stage achieved rate = (count − 1) / send_duration from each stage file, our definition (its own
 *   `achieved_rate` is count / send_duration). Without stage files a one-stage run uses the records.
 * - A per-request file with fewer records than its summary counted is truncated → invalid.
 */
export function finalizeInferencePerf(input: {
  identity: RunIdentity;
  request: RunRequest;
  agg: RunResults;
  facts: InferencePerfLoadFacts;
}): Summary {
  const { identity, request, agg, facts } = input;
  const extra: string[] = [];
  const scheduled = facts.summary?.count ?? agg.acc.records;
  const base = agg.acc.measure(identity, request, { scheduled, partial: false });
  anchorRunTimes(base, agg.acc, facts.endEpochMs);

  if (facts.summary?.scheduleDelay) {
    base.load.schedule_delay = facts.summary.scheduleDelay;
    base.load.scheduleDelaySource = 'inference-perf-summary';
  } else {
    base.load.scheduleDelaySource = 'unavailable';
    extra.push(
      facts.summary
        ? "inference-perf's summary has no schedule delay, so the load generator's own lateness is unknown. Re-run with report.request_lifecycle.summary: true."
        : "inference-perf's summary_lifecycle_metrics.json is missing or unreadable, so schedule delay (whether the load generator kept its schedule) is unknown. Check that the run finished and uploaded all its files (its uploads fail silently), then aggregate again.",
    );
  }

  if (facts.stages.size > 0) {
    base.load.stages = request.stages.map((cfg, stage): StageLoad => {
      const st = facts.stages.get(stage);
      if (!st) return { stage, requestedRate: cfg.rate, scheduledRate: null, achievedRate: null, sent: 0, sendDurationS: null };
      const achieved = st.sendDurationS && st.sendDurationS > 0 && st.count > 1 ? round((st.count - 1) / st.sendDurationS, 4) : null;
      return { stage, requestedRate: st.requestedRate ?? cfg.rate, scheduledRate: null, achievedRate: achieved, sent: st.count, sendDurationS: st.sendDurationS === null ? null : round(st.sendDurationS, 3) };
    });
    const durations = base.load.stages.filter((s) => s.sendDurationS !== null);
    const sendS = durations.reduce((a, s) => a + (s.sendDurationS ?? 0), 0);
    base.load.sendDurationS = durations.length ? round(sendS, 3) : null;
    base.load.achievedRate =
      base.load.stages.length === 1 ? base.load.stages[0]!.achievedRate : sendS > 0 ? round((base.requests.sent - base.load.stages.length) / sendS, 4) : null;
  } else if (request.stages.length > 1) {
    base.load.stages = base.load.stages.map((s) => ({ ...s, achievedRate: null, scheduledRate: null, sendDurationS: null }));
    base.load.achievedRate = null;
    extra.push("inference-perf's per-stage files (stage_<i>_lifecycle_metrics.json) are missing and its records carry no stage, so the achieved rate of each stage is unknown. Re-run with report.request_lifecycle.per_stage: true.");
  }

  if (facts.summary && facts.summary.count !== agg.acc.records) {
    extra.push(`inference-perf's summary counted ${facts.summary.count} requests but its per-request file holds ${agg.acc.records} readable records: the per-request file is incomplete. Check the upload and the file's size; run again if it was cut short.`);
  }
  return finish(base, request, agg.tally.report(), extra);
}

/**
 * inference-perf times have no epoch: the run's end instant is taken from its per-request file's
 * modification/upload time (written right after the run, so seconds late at most), and the start is
 * that minus the run's exact duration. Without an anchor both stay null.
 */
export function anchorRunTimes(s: Measured, acc: RunAccumulator, endEpochMs: number | null): void {
  if (endEpochMs === null || !Number.isFinite(acc.firstSentAt) || !Number.isFinite(acc.lastDoneAt)) {
    s.run.startedAt = null;
    s.run.endedAt = null;
    return;
  }
  s.run.endedAt = new Date(endEpochMs).toISOString();
  s.run.startedAt = new Date(endEpochMs - (acc.lastDoneAt - acc.firstSentAt)).toISOString();
}

/**
 * The summary of measured numbers plus what was read and the verdict. `damaged` are reasons about
 * the run's files (missing or cut-short result files) beside the input tally's own.
 *
 * When records were lost to damaged input, the damage is said first, and what the lost records
 * alone would cause — requests "not sent", too few successes, an achieved rate off the schedule —
 * is said as such in one reason, instead of the rules' words, which blame the runner (give it more
 * CPU, run longer) for numbers a bad file made low. Everything else the rules find stands.
 */
export function finish(base: Measured, request: RunRequest, input: InputReport, extra: string[] = [], damaged: string[] = [], server: ServerAccount | null = null): Summary {
  const judged = judgeValidity(base, request);
  const serverSide = judgeServerAccount(server, request.validity);
  const others = [...extra, ...serverSide.reasons];
  const inputSide = [...damaged, ...inputReasons(input)];
  let reasons: string[];
  if (inputSide.length === 0) {
    reasons = [...judged.reasons, ...others];
  } else {
    const standing = judgeValidity(asIfNothingWasLost(base), { ...request, validity: { ...request.validity, minSuccesses: 0 } }).reasons;
    const explained = judged.reasons.filter((r) => !standing.includes(r));
    reasons = [...inputSide, ...(explained.length > 0 ? [lostRecordsReason(base, request)] : []), ...judged.reasons.filter((r) => standing.includes(r)), ...others];
  }
  if (base.load.scheduleDelaySource === 'unavailable' && base.requests.sent > 0 && base.run.runner.kind === 'native') {
    reasons.push('No record carried a scheduled time, so schedule delay is unknown. Check the runner version that wrote the records.');
  }
  return { ...base, input, validity: { valid: reasons.length === 0, reasons, notes: [...judged.notes, ...serverSide.notes] }, context: null, comparison: null, server };
}

/**
 * The run judged as if the records lost to damaged input had been there: every request sent
 * (unless the run was interrupted, which the rules say themselves), the achieved rate unknown, and
 * (with minSuccesses 0) no count of successes too small — when nothing could be read, not even
 * "none succeeded". What the rules still find then does not come from the lost records.
 */
function asIfNothingWasLost(base: Measured): Measured {
  const { requests } = base;
  return {
    ...base,
    requests: { ...requests, scheduled: base.run.partial ? requests.scheduled : Math.min(requests.scheduled, requests.sent), succeeded: requests.sent === 0 ? 1 : requests.succeeded },
    load: { ...base.load, stages: base.load.stages.map((st) => ({ ...st, achievedRate: null })) },
  };
}

/** What the lost records make of the counts and the rate, worded so the reader goes to the damaged file, not the runner. */
function lostRecordsReason(base: Measured, request: RunRequest): string {
  const { requests } = base;
  const rules = request.validity;
  const figures: string[] = [];
  if (requests.sent === 0) figures.push('hold no request at all');
  else if (!base.run.partial && requests.sent < requests.scheduled) figures.push(`hold ${requests.sent} of the ${requests.scheduled} scheduled requests`);
  if (requests.succeeded > 0 && requests.succeeded < rules.minSuccesses) figures.push(`only ${requests.succeeded} successful request(s) (a baseline needs ${rules.minSuccesses})`);
  const off = base.load.stages.filter((st) => st.achievedRate !== null && Math.abs(st.achievedRate - (st.scheduledRate ?? st.requestedRate)) / (st.scheduledRate ?? st.requestedRate) > rules.maxRateDeviation);
  if (off.length > 0) {
    const where = (stage: number): string => (base.load.stages.length > 1 ? ` in stage ${stage}` : '');
    figures.push(`an achieved rate of ${off.map((st) => `${fmt(st.achievedRate!)} req/s against the scheduled ${fmt(st.scheduledRate ?? st.requestedRate)} req/s${where(st.stage)}`).join(', ')}`);
  }
  const what = figures.length > 0 ? `the readable records ${figures.join(' and ')}` : 'the request counts and rates fall short';
  return `Because of the damaged input above, ${what}. Records are missing, so these figures may be off for that reason alone; they do not show that the runner fell behind or that the run was too short. Restore the damaged file(s) (or run again) and aggregate again before judging the load.`;
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(x < 10 ? 2 : 1);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
