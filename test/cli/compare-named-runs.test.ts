import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { nativeRecords, writeNativeRun } from '../../bench/support/generate.ts';
import { KEY_METRICS, perMetricAlpha, resolveCompareOptions, studentTQuantile } from '../../runtime/core/compare/index.ts';
import type { RequestRecord } from '../../runtime/core/records/record.ts';
import { cli } from '../support/cli.ts';
import { useTempDirs } from '../support/temp-dir.ts';

const tempDir = useTempDirs();

/**
 * `compare <run> <baseline...>` with runs a person names: five aggregated runs of one workload, a
 * day apart (the generator's seeded records moved in time), the fourth with 10 % failed requests
 * (invalid). Each test names the runs it passes; the run compared is day 2, so day 1 is earlier and
 * days 3–5 are later.
 */
const DAY_MS = 86_400_000;
const days = [1, 2, 3, 4, 5] as const;
const INVALID_DAY = 4;
const dirs = new Map<number, string>();
const runIdOf = (day: number): string => `2026010${day}T000000Z-day${day}`;

function shifted(r: RequestRecord, ms: number): RequestRecord {
  const by = (t: number | null): number | null => (t === null ? null : t + ms);
  return { ...r, scheduledAt: by(r.scheduledAt), sentAt: by(r.sentAt), firstTokenAt: by(r.firstTokenAt), doneAt: by(r.doneAt)!, contentTimes: r.contentTimes.map((t) => t + ms) };
}

beforeAll(async () => {
  const out = await tempDir();
  for (const day of days) {
    const runId = runIdOf(day);
    const { records } = nativeRecords({ requests: 120, tokens: 8, rate: 1, seed: day, runId, failEvery: day === INVALID_DAY ? 10 : 0 });
    const dir = join(out, runId);
    await writeNativeRun(dir, records.map((r) => shifted(r, (day - 1) * DAY_MS)), { shards: 1, tokens: 8, rate: 1, runId });
    const aggregated = await cli(['aggregate', dir, '--no-history']);
    expect(aggregated.code, aggregated.stdout + aggregated.stderr).toBe(day === INVALID_DAY ? 3 : 0);
    dirs.set(day, dir);
  }
});

const dir = (day: number): string => dirs.get(day)!;
/** The baseline list's line of one run: its id, start and place in time. */
const listed = (stdout: string, day: number): string | undefined => stdout.split('\n').find((l) => l.trimStart().startsWith(runIdOf(day)));

describe('compare labels every named run by its time', () => {
  it('compare day-2 day-1 day-3: day 1 is "earlier", day 3 "later", and no later run is called earlier', async () => {
    const r = await cli(['compare', dir(2), dir(1), dir(3)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^run 20260102T000000Z-day2 \(started 2026-01-02T00:00:\d\dZ\): /m);
    expect(r.stdout).toMatch(/^against 2 named runs \(/m);
    expect(listed(r.stdout, 1)).toMatch(/started 2026-01-01T00:00:\d\dZ {2}earlier$/);
    expect(listed(r.stdout, 3)).toMatch(/started 2026-01-03T00:00:\d\dZ {2}later$/);
    expect(r.stdout).not.toMatch(/earlier valid run/);
    // What differs is read from the latest run named, and said to be later, not "the previous run".
    expect(r.stdout).toContain(`between this run and run ${runIdOf(3)} (named, later)`);
    expect(r.stdout).not.toContain('previous run');
  });

  it('compare day-2 day-5 day-3 day-1 (three named runs, a window): the verdict says "named", never "earlier"', async () => {
    const r = await cli(['compare', dir(2), dir(5), dir(3), dir(1)]);
    expect(r.code, r.stderr).toBe(0);
    // Listed by start, whatever the order they were named in.
    expect([1, 3, 5].map((d) => r.stdout.indexOf(runIdOf(d)))).toEqual([1, 3, 5].map((d) => r.stdout.indexOf(runIdOf(d))).sort((a, b) => a - b));
    expect(listed(r.stdout, 5)).toMatch(/later$/);
    expect(r.stdout).toMatch(/^verdict: unchanged — unchanged against 3 named runs: /m);
    expect(r.stdout).not.toMatch(/earlier runs?\b/);
  });
});

describe('compare warns about invalid runs named and leaves them out', () => {
  it('compare day-2 day-1 day-4 (day 4 is invalid): a warning names day 4 and its reason; the baseline is day 1 alone', async () => {
    const r = await cli(['compare', dir(2), dir(1), dir(INVALID_DAY)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`warning: baseline ${dir(INVALID_DAY)} (run ${runIdOf(INVALID_DAY)}) is INVALID, so it is left out of the baseline:\n  - 12 of 120 requests failed (10 %, allowed 0 %)`);
    expect(r.stdout).toMatch(/^against 1 named run \(/m);
    expect(listed(r.stdout, INVALID_DAY)).toBeUndefined();
  });

  it('compare day-2 day-4 (only an invalid run named): nothing can be compared, one message, exit 2', async () => {
    const r = await cli(['compare', dir(2), dir(INVALID_DAY)]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^error: compare ${esc(dir(2))}: every baseline run named is invalid, so nothing can be compared`));
    expect(r.stderr).toContain(`  - ${dir(INVALID_DAY)} (run ${runIdOf(INVALID_DAY)}): 12 of 120 requests failed`);
    expect(r.stderr).toMatch(/\nFix: name valid runs of the same workload/);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(3);
  });
});

describe('compare refuses a run compared with itself', () => {
  it('compare day-2 day-2: one message naming the input and the fix, exit 2', async () => {
    const r = await cli(['compare', dir(2), dir(2)]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `error: compare ${dir(2)}: baseline ${dir(2)} is run ${runIdOf(2)}, the run being compared: a run compared with itself always looks unchanged, so it tells nothing\n` +
        "Fix: name other runs of the same workload as the baseline, each once (see `inference-baseline history`), or name none to compare with the run's own history.\n",
    );
  });

  it('compare day-2 day-1 <day-2 spelled with a trailing "/."> : the same run under another path is refused too', async () => {
    const r = await cli(['compare', dir(2), dir(1), `${dir(2)}/.`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`is run ${runIdOf(2)}, the run being compared`);
  });

  it('compare day-2 day-1 day-1: a run named twice would count twice, refused', async () => {
    const r = await cli(['compare', dir(2), dir(1), dir(1)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`baseline ${dir(1)} is run ${runIdOf(1)}, already named as ${dir(1)}`);
  });
});

describe('compare says what "± needed" means and the smallest change it can detect', () => {
  it('compare day-2 day-1 day-3 day-5 (a window of 3): each metric\'s smallest detectable change is the larger of ± needed and 5 %', async () => {
    const r = await cli(['compare', dir(2), dir(1), dir(3), dir(5)]);
    expect(r.code, r.stderr).toBe(0);
    const o = resolveCompareOptions();
    // The ± of each row, as printed: the smallest detectable change is read from them, nothing else.
    const needed = new Map(KEY_METRICS.map((m) => [m.name, Number(new RegExp(`^${m.name}\\s.*\\(±(\\d+\\.\\d) %\\)`, 'm').exec(r.stdout)![1])]));
    const detectable = [...needed].map(([name, pm]) => `${name} ${Math.max(pm, o.minEffect * 100).toFixed(1)} %`);
    expect(r.stdout).toContain(`smallest change this comparison can detect: ${detectable.join(', ')}.`);
    expect(r.stdout).toContain('± needed: how far a change must go to count at a 1 % false-alarm rate; a change is flagged only beyond it and the 5 % minimum effect.');
    // Three runs: Student's t with 2 degrees of freedom at the per-metric level — the reason ± is large.
    const smallest = Math.min(...[...needed.values()].map((pm) => Math.max(pm, o.minEffect * 100)));
    const t = studentTQuantile(1 - perMetricAlpha(o), 2);
    expect(r.stdout).toContain(`With 3 baseline runs, no key metric can show a change smaller than ${smallest.toFixed(1)} %: the critical t is ${t.toFixed(1)} with 2 degrees of freedom, and each further run lowers it.`);
  });
});

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
