/**
 * Calibration of the run comparison (runtime/core/compare) on the simulator's latency model: whole
 * seed-scenario runs (300 requests × 128 output tokens) drawn from `timeToFirstTokenMs` and
 * `interTokenGapMs` in the order `planGeneration` draws them, measured by `requestMetrics` and
 * recorded into one LatencyHistogram per metric as the RunAccumulator aggregates a real run.
 * Prints, as markdown, how often a run with no change is called regressed (false alarms) and how
 * often a +10 % TTFT or ITL slowdown is caught.
 *
 *   node --import tsx bench/compare-calibration.ts [--trials 5000] [--seed 20260101]
 *
 * The generator and the trial loop are exported: test/core/compare-calibration.test.ts runs the
 * same procedure with fewer trials.
 */
import { cpus } from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { compareRun, DEFAULT_COMPARE_OPTIONS, estimateKeyMetrics, estimateMetric, KEY_METRICS, perMetricAlpha, type CompareOptions, type KeyMetric, type MetricSource, type RunComparison, type RunEstimates } from '../runtime/core/compare/index.ts';
import { requestMetrics } from '../runtime/core/metrics/definitions.ts';
import { LatencyHistogram } from '../runtime/core/metrics/latency-histogram.ts';
import { itemRng } from '../runtime/core/random.ts';
import type { RequestRecord } from '../runtime/core/records/record.ts';
import { interTokenGapMs, requestRng, timeToFirstTokenMs, type LatencyParams } from '../runtime/simulator/latency-model.ts';

export const REQUESTS_PER_RUN = 300;
export const PROMPT_TOKENS = 512;
export const OUTPUT_TOKENS = 128;

/**
 * The unchanged endpoint. TTFT 40 ± 15 ms (uniform, sd 8.7 ms, 22 % of the mean): under continuous
 * batching a new request waits for the decode step in flight (about one ITL, 12 ms) before its
 * prefill is scheduled, so TTFT spreads by about a step plus scheduler noise, far more than ITL
 * does. A wide spread is also the hard case for the comparison: it makes TTFT the least precise key
 * metric of a night (p50's standard error ≈ 2 %). ITL 12 ± 3 ms: the simulator's default gap, with
 * more than its default ±1 ms jitter so that ITL percentiles are not trivially precise.
 */
export const BASE_MODEL: LatencyParams = { ttftMs: 40, ttftJitterMs: 15, prefillMsPerToken: 0, itlMs: 12, jitterMs: 3, tokensPerChunk: 1 };

/** The model slowed by a factor: TTFT (base and jitter) and/or every gap (mean and jitter). */
export function slowedModel(base: LatencyParams, by: { ttft?: number; itl?: number }): LatencyParams {
  const t = by.ttft ?? 1;
  const i = by.itl ?? 1;
  return { ...base, ttftMs: base.ttftMs * t, ttftJitterMs: base.ttftJitterMs * t, itlMs: base.itlMs * i, jitterMs: base.jitterMs * i };
}

/** The seed of run #index of a series: independent runs, each reproducible on its own. */
export function runSeed(seriesSeed: number, index: number): number {
  return Math.floor(itemRng(seriesSeed, index, 1)() * 0x1_0000_0000);
}

/**
 * One run's key-metric estimates. Request #seq draws from `requestRng(seed, seq)` as the simulator
 * does, so the same seed under a slowed model gives the same run, slowed (common random numbers:
 * a slowed run differs from its twin only by the slowdown).
 */
export function simulateRun(model: LatencyParams, seed: number): RunEstimates {
  return estimateKeyMetrics(measureRun(model, seed, ALL_SOURCES));
}

/**
 * A TTFT-slowed run for the price of its TTFT: only TTFT and e2e are re-measured, ITL and TPOT are
 * taken from the unslowed twin of the same seed. They are equal, not just alike: the TTFT draw comes
 * first from the request's stream, so every gap is the same draw (a test checks it).
 */
export function simulateTtftSlowedRun(model: LatencyParams, seed: number, twin: RunEstimates): RunEstimates {
  const measured = measureRun(model, seed, ['ttft', 'e2e']);
  return Object.fromEntries(
    KEY_METRICS.map((m) => {
      const h = measured[m.source];
      return [m.name, h ? estimateMetric(h, m.percentile) : twin[m.name]];
    }),
  ) as RunEstimates;
}

const ALL_SOURCES = ['ttft', 'itl', 'tpot', 'e2e'] as const satisfies readonly MetricSource[];

/**
 * When each content event of request #seq arrives, one token per event: the TTFT draw, then 127
 * gap draws from the request's own stream, as `planGeneration` plans them with one token per chunk
 * (a test checks they agree), without building the plan's chunk objects.
 */
export function requestContentTimes(model: LatencyParams, seed: number, seq: number, sentAt: number): number[] {
  const rng = requestRng(seed, seq);
  const times = new Array<number>(OUTPUT_TOKENS);
  let offset = timeToFirstTokenMs(model, PROMPT_TOKENS, rng);
  times[0] = sentAt + offset;
  for (let i = 1; i < OUTPUT_TOKENS; i++) {
    offset += interTokenGapMs(model, rng);
    times[i] = sentAt + offset;
  }
  return times;
}

/** The run's requests, defined by `requestMetrics` and recorded into one LatencyHistogram per source. */
function measureRun<S extends MetricSource>(model: LatencyParams, seed: number, sources: readonly S[]): Record<S, LatencyHistogram> & Partial<Record<MetricSource, LatencyHistogram>> {
  const dists = Object.fromEntries(sources.map((s) => [s, LatencyHistogram.empty()])) as Record<S, LatencyHistogram> & Partial<Record<MetricSource, LatencyHistogram>>;
  for (let seq = 0; seq < REQUESTS_PER_RUN; seq++) {
    const sentAt = seq * 1000;
    const m = requestMetrics(successRecord(seq, sentAt, requestContentTimes(model, seed, seq, sentAt)));
    if (m.ttft !== null) dists.ttft?.recordMs(m.ttft);
    if (dists.itl) for (const gap of m.itl) dists.itl.recordMs(gap);
    if (m.tpot !== null) dists.tpot?.recordMs(m.tpot);
    if (m.e2e !== null) dists.e2e?.recordMs(m.e2e);
  }
  return dists;
}

/** A clean streamed request as the runner records it; usage and [DONE] follow the last chunk at once. */
function successRecord(seq: number, sentAt: number, contentTimes: number[]): RequestRecord {
  return {
    v: 1,
    runId: 'calibration',
    shard: 0,
    seq,
    stage: 0,
    scheduledAt: sentAt,
    sentAt,
    firstTokenAt: contentTimes[0]!,
    doneAt: contentTimes[contentTimes.length - 1]!,
    contentTimes,
    inputTokens: { requested: PROMPT_TOKENS, client: PROMPT_TOKENS, server: PROMPT_TOKENS },
    outputTokens: { requested: OUTPUT_TOKENS, client: contentTimes.length, server: OUTPUT_TOKENS },
    status: 200,
    error: null,
  };
}

/** `count` independent runs of one model: the nights of an endpoint that never changed. */
export function simulateSeries(model: LatencyParams, seriesSeed: number, count: number): RunEstimates[] {
  return Array.from({ length: count }, (_, i) => simulateRun(model, runSeed(seriesSeed, i)));
}

/**
 * Nights of an endpoint that never changed on a real cluster: each night's whole latency model is
 * scaled by its own factors, TTFT and ITL independently, 1 + wobble × N(0, 1) — the night-to-night
 * spread (other tenants, clocks, placement) that the window must learn and not call a regression.
 */
export function simulateWobblySeries(model: LatencyParams, seriesSeed: number, count: number, wobble: number): RunEstimates[] {
  return Array.from({ length: count }, (_, i) => {
    const rng = itemRng(seriesSeed, i, 7);
    const gauss = (): number => Math.sqrt(-2 * Math.log(Math.max(rng(), Number.MIN_VALUE))) * Math.cos(2 * Math.PI * rng());
    return simulateRun(slowedModel(model, { ttft: 1 + wobble * gauss(), itl: 1 + wobble * gauss() }), runSeed(seriesSeed, i));
  });
}

export interface Tally {
  trials: number;
  /** Trials whose run verdict was regressed. */
  regressed: number;
  improved: number;
  /** Trials whose run was regressed with one of these sources' metrics among the regressed. */
  regressedOn: Record<MetricSource, number>;
  /** Per key metric, trials where it was regressed. */
  byMetric: Record<KeyMetric, number>;
}

/**
 * Trial j judges run `judged(j)` against runs j .. j + windowSize − 1 of the series: rolling windows
 * over one series of independent nights. With `judged(j) = series[j + windowSize]` this is the
 * no-change experiment; a slowed twin of that run is the detection experiment.
 */
export function runTrials(series: readonly RunEstimates[], trials: number, judged: (trial: number) => RunEstimates, options: Partial<CompareOptions> = {}): Tally {
  const windowSize = options.windowSize ?? DEFAULT_COMPARE_OPTIONS.windowSize;
  if (series.length < trials - 1 + windowSize) throw new RangeError(`${trials} trials need ${trials - 1 + windowSize} runs, got ${series.length}`);
  const tally: Tally = { trials, regressed: 0, improved: 0, regressedOn: { ttft: 0, itl: 0, tpot: 0, e2e: 0 }, byMetric: Object.fromEntries(KEY_METRICS.map((m) => [m.name, 0])) as Record<KeyMetric, number> };
  for (let j = 0; j < trials; j++) count(tally, compareRun(judged(j), series.slice(j, j + windowSize), options));
  return tally;
}

function count(tally: Tally, c: RunComparison): void {
  if (c.verdict === 'improved') tally.improved += 1;
  if (c.verdict !== 'regressed') return;
  tally.regressed += 1;
  const sources = new Set<MetricSource>();
  for (const m of c.metrics) {
    if (m.verdict !== 'regressed') continue;
    tally.byMetric[m.metric] += 1;
    sources.add(KEY_METRICS.find((k) => k.name === m.metric)!.source);
  }
  for (const s of sources) tally.regressedOn[s] += 1;
}

/** Wilson 95 % interval of a rate, so a table of 0 / 5,000 still says how small "0" is. */
function wilson(successes: number, trials: number): [number, number] {
  const z = 1.959963984540054;
  const p = successes / trials;
  const d = 1 + (z * z) / trials;
  const c = (p + (z * z) / (2 * trials)) / d;
  const h = (z * Math.sqrt((p * (1 - p)) / trials + (z * z) / (4 * trials * trials))) / d;
  return [Math.max(0, c - h), Math.min(1, c + h)];
}

function main(): void {
  const { values } = parseArgs({ options: { trials: { type: 'string', default: '5000' }, seed: { type: 'string', default: '20260101' } } });
  const trials = Number(values.trials);
  const seed = Number(values.seed);
  const o = DEFAULT_COMPARE_OPTIONS;
  const started = performance.now();
  const series = simulateSeries(BASE_MODEL, seed, trials + o.windowSize);
  const judgedIndex = (j: number): number => j + o.windowSize;
  const slowTtft = slowedModel(BASE_MODEL, { ttft: 1.1 });
  const slowItl = slowedModel(BASE_MODEL, { itl: 1.1 });
  const none = runTrials(series, trials, (j) => series[judgedIndex(j)]!);
  const bare = runTrials(series, trials, (j) => series[judgedIndex(j)]!, { minEffect: 0 });
  const ttft = runTrials(series, trials, (j) => simulateTtftSlowedRun(slowTtft, runSeed(seed, judgedIndex(j)), series[judgedIndex(j)]!));
  const itl = runTrials(series, trials, (j) => simulateRun(slowItl, runSeed(seed, judgedIndex(j))));
  const wobbly = simulateWobblySeries(BASE_MODEL, seed + 1, trials + o.windowSize, 0.03);
  const wobble = runTrials(wobbly, trials, (j) => wobbly[judgedIndex(j)]!, { minEffect: 0 });
  const seconds = (performance.now() - started) / 1000;

  const pct = (x: number): string => `${(100 * x).toFixed(2)} %`;
  const rate = (k: number): string => {
    const [lo, hi] = wilson(k, trials);
    return `${pct(k / trials)} (${k} / ${trials}; 95 % CI ${pct(lo)} – ${pct(hi)})`;
  };
  const m = BASE_MODEL;
  console.log(`run comparison calibration — ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${seconds.toFixed(1)} s\n`);
  console.log('```bash\nnode --import tsx bench/compare-calibration.ts' + ` --trials ${trials} --seed ${seed}` + '\n```\n');
  console.log(`Model (runtime/simulator/latency-model.ts): TTFT ${m.ttftMs} ± ${m.ttftJitterMs} ms, ITL ${m.itlMs} ± ${m.jitterMs} ms (both uniform), ${REQUESTS_PER_RUN} requests × ${OUTPUT_TOKENS} output tokens per run (${REQUESTS_PER_RUN * (OUTPUT_TOKENS - 1)} ITL gaps), one token per chunk.`);
  console.log(`Series seed ${seed}: run i draws from requestRng(runSeed(${seed}, i), seq). Trial j judges run j + ${o.windowSize} against runs j .. j + ${o.windowSize - 1}; a slowed trial judges run j + ${o.windowSize}'s slowed twin (same seed).`);
  console.log(`Options: window ${o.windowSize} (min ${o.minWindow}), min effect ${pct(o.minEffect)}, run-level false-alarm target ${pct(o.falseAlarmRate)} (one-sided ${(100 * perMetricAlpha(o)).toFixed(3)} % per key metric, ${KEY_METRICS.length} metrics).\n`);
  console.log('| experiment | trials | run verdict regressed | on the shifted metric | key metrics flagged regressed |');
  console.log('|---|---:|---:|---:|---|');
  const flagged = (t: Tally): string =>
    KEY_METRICS.filter((k) => t.byMetric[k.name] > 0)
      .map((k) => `${k.name} ${t.byMetric[k.name]}`)
      .join(', ') || '—';
  console.log(`| no change (false alarms) | ${trials} | ${rate(none.regressed)} | — | ${flagged(none)} |`);
  console.log(`| no change, min effect 0 (the statistical test alone) | ${trials} | ${rate(bare.regressed)} | — | ${flagged(bare)} |`);
  console.log(`| TTFT +10 % (ttftMs and ttftJitterMs × 1.1) | ${trials} | ${rate(ttft.regressed)} | ${rate(ttft.regressedOn.ttft)} | ${flagged(ttft)} |`);
  console.log(`| ITL +10 % (itlMs and jitterMs × 1.1) | ${trials} | ${rate(itl.regressed)} | ${rate(itl.regressedOn.itl)} | ${flagged(itl)} |`);
  console.log(`| no change, nights wobbling 3 % (series seed ${seed + 1}), min effect 0 | ${trials} | ${rate(wobble.regressed)} | — | ${flagged(wobble)} |`);
  console.log(`\nNo-change runs called improved: ${rate(none.improved)}; with min effect 0, ${rate(bare.improved)}.`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
