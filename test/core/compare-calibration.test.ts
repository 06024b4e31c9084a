import { beforeAll, describe, expect, it } from 'vitest';
import {
  BASE_MODEL,
  OUTPUT_TOKENS,
  PROMPT_TOKENS,
  requestContentTimes,
  runSeed,
  runTrials,
  simulateRun,
  simulateSeries,
  simulateTtftSlowedRun,
  simulateWobblySeries,
  slowedModel,
} from '../../bench/compare-calibration.ts';
import { DEFAULT_COMPARE_OPTIONS, KEY_METRICS, type RunEstimates } from '../../runtime/core/compare/index.ts';
import { planGeneration, requestRng } from '../../runtime/simulator/latency-model.ts';

/**
 * Does the comparison keep its promises on runs drawn from the simulator's latency model (TTFT
 * 40 ± 15 ms, ITL 12 ± 3 ms, 300 requests × 128 tokens; bench/compare-calibration.ts says why)?
 * One series of independent nights, seed 20260101; trial j judges night j + 7 against nights
 * j .. j + 6. A slowed trial judges night j + 7's slowed twin (same seed), built only for that trial.
 * A smoke test of 150 trials (every draw seeded: the verdicts are the same on any machine);
 * `npm run bench:compare` runs the full calibration, 5,000 trials (BENCHMARKS.md).
 */
const SEED = 20260101;
const TRIALS = 150;
const WINDOW = DEFAULT_COMPARE_OPTIONS.windowSize;
const judged = (trial: number): number => trial + WINDOW;

describe(`calibration on the simulator's latency model, series seed ${SEED}, ${TRIALS} trials each`, () => {
  let series: RunEstimates[] = [];
  beforeAll(() => {
    series = simulateSeries(BASE_MODEL, SEED, TRIALS + WINDOW);
  });

  it('each key metric’s standard error matches its night-to-night spread within a third', () => {
    for (const m of KEY_METRICS) {
      const values = series.map((r) => r[m.name].value!);
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      const spread = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1));
      const rmsSe = Math.sqrt(series.reduce((a, r) => a + r[m.name].se! ** 2, 0) / series.length);
      expect(rmsSe / spread, m.name).toBeGreaterThan(0.75);
      expect(rmsSe / spread, m.name).toBeLessThan(1.33);
    }
  });

  it(`no change: at most ${DEFAULT_COMPARE_OPTIONS.falseAlarmRate * 100} % of runs are called regressed (or improved)`, () => {
    const t = runTrials(series, TRIALS, (j) => series[judged(j)]!);
    expect(t.regressed / TRIALS).toBeLessThanOrEqual(DEFAULT_COMPARE_OPTIONS.falseAlarmRate);
    expect(t.improved / TRIALS).toBeLessThanOrEqual(DEFAULT_COMPARE_OPTIONS.falseAlarmRate);
  });

  it('no change, min effect 0: the statistical test alone stays within the rate too', () => {
    const t = runTrials(series, TRIALS, (j) => series[judged(j)]!, { minEffect: 0 });
    expect(t.regressed / TRIALS).toBeLessThanOrEqual(DEFAULT_COMPARE_OPTIONS.falseAlarmRate);
  });

  it('no change on a cluster whose nights wobble by 3 % (TTFT and ITL scaled per night, series seed 20260102), min effect 0: still within the rate', () => {
    const wobbly = simulateWobblySeries(BASE_MODEL, 20260102, TRIALS + WINDOW, 0.03);
    const t = runTrials(wobbly, TRIALS, (j) => wobbly[judged(j)]!, { minEffect: 0 });
    expect(t.regressed / TRIALS).toBeLessThanOrEqual(DEFAULT_COMPARE_OPTIONS.falseAlarmRate);
    expect(t.improved / TRIALS).toBeLessThanOrEqual(DEFAULT_COMPARE_OPTIONS.falseAlarmRate);
  });

  it('TTFT +10 % (ttftMs and ttftJitterMs × 1.1): regressed on a TTFT metric in ≥ 95 % of runs', () => {
    const slow = slowedModel(BASE_MODEL, { ttft: 1.1 });
    const t = runTrials(series, TRIALS, (j) => simulateTtftSlowedRun(slow, runSeed(SEED, judged(j)), series[judged(j)]!));
    expect(t.regressedOn.ttft / TRIALS).toBeGreaterThanOrEqual(0.95);
  });

  it('ITL +10 % (itlMs and jitterMs × 1.1): regressed on an ITL metric in ≥ 95 % of runs', () => {
    const slow = slowedModel(BASE_MODEL, { itl: 1.1 });
    const t = runTrials(series, TRIALS, (j) => simulateRun(slow, runSeed(SEED, judged(j))));
    expect(t.regressedOn.itl / TRIALS).toBeGreaterThanOrEqual(0.95);
  });
});

describe('the calibration generator', () => {
  it('draws each request as the simulator plans it (planGeneration, one token per chunk; seed 7, requests 0–4)', () => {
    for (let seq = 0; seq < 5; seq++) {
      const { chunks } = planGeneration(BASE_MODEL, PROMPT_TOKENS, OUTPUT_TOKENS, requestRng(7, seq));
      expect(requestContentTimes(BASE_MODEL, 7, seq, 0)).toEqual(chunks.map((c) => c.offsetMs));
    }
  });

  it('a TTFT-slowed twin built from its run equals the same run measured in full (seeds 1–3)', () => {
    const slow = slowedModel(BASE_MODEL, { ttft: 1.1 });
    for (const seed of [1, 2, 3]) {
      expect(simulateTtftSlowedRun(slow, seed, simulateRun(BASE_MODEL, seed))).toEqual(simulateRun(slow, seed));
    }
  });
});
