import { describe, expect, it } from 'vitest';
import { buildSchedule, pace, scheduleSlots, shardSeqs, shardSize, shardSlice } from '../../runtime/runner/pacer.ts';
import { workerShard } from '../../runtime/core/scenario/schedule.ts';

describe('buildSchedule', () => {
  it('even arrivals at 1 req/s for 300 s: 300 requests exactly 1000 ms apart, starting at 0', () => {
    const s = buildSchedule([{ rate: 1, duration: 300 }], 'even', 1, 0);
    expect(s).toHaveLength(300);
    expect(s[0]).toEqual({ seq: 0, stage: 0, offsetMs: 0 });
    expect(s[299]!.offsetMs).toBe(299_000);
    for (let i = 1; i < s.length; i++) expect(s[i]!.offsetMs - s[i - 1]!.offsetMs).toBe(1000);
  });

  it.each([
    { rate: 4, duration: 2, n: 8, gap: 250 },
    { rate: 0.5, duration: 10, n: 5, gap: 2000 },
    { rate: 100, duration: 1, n: 100, gap: 10 },
  ])('even arrivals at $rate req/s for $duration s → $n requests $gap ms apart', ({ rate, duration, n, gap }) => {
    const s = buildSchedule([{ rate, duration }], 'even', 0, 0);
    expect(s).toHaveLength(n);
    expect(s.map((x) => x.offsetMs)).toEqual(Array.from({ length: n }, (_, i) => i * gap));
  });

  it('stages follow each other after the interval, with their own index', () => {
    const s = buildSchedule([{ rate: 2, duration: 1 }, { rate: 1, duration: 2 }], 'even', 0.5, 0);
    expect(s.map((x) => [x.stage, x.offsetMs])).toEqual([
      [0, 0],
      [0, 500],
      [1, 1500],
      [1, 2500],
    ]);
    expect(s.map((x) => x.seq)).toEqual([0, 1, 2, 3]);
  });

  it('normalized-exponential (inference-perf "constant") spans the stage duration with uneven gaps', () => {
    const s = buildSchedule([{ rate: 10, duration: 30 }], 'normalized-exponential', 0, 7);
    expect(s).toHaveLength(300);
    const gaps = s.slice(1).map((x, i) => x.offsetMs - s[i]!.offsetMs);
    expect(Math.min(...gaps)).toBeLessThan(20);
    expect(Math.max(...gaps)).toBeGreaterThan(200);
    // n gaps sum to the duration; the last request starts one gap before the end.
    expect(s[299]!.offsetMs).toBeLessThan(30_000);
    expect(s[299]!.offsetMs).toBeGreaterThan(29_000);
  });

  it('poisson draws exponential gaps with the requested mean and is reproducible from the seed', () => {
    const a = buildSchedule([{ rate: 50, duration: 200 }], 'poisson', 0, 42);
    const b = buildSchedule([{ rate: 50, duration: 200 }], 'poisson', 0, 42);
    const c = buildSchedule([{ rate: 50, duration: 200 }], 'poisson', 0, 43);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    const gaps = a.slice(1).map((x, i) => x.offsetMs - a[i]!.offsetMs);
    const mean = gaps.reduce((x, y) => x + y, 0) / gaps.length;
    expect(mean).toBeGreaterThan(19);
    expect(mean).toBeLessThan(21);
    // Exponential: the standard deviation equals the mean.
    const sd = Math.sqrt(gaps.reduce((x, g) => x + (g - mean) ** 2, 0) / gaps.length);
    expect(sd / mean).toBeGreaterThan(0.9);
    expect(sd / mean).toBeLessThan(1.1);
  });
});

describe('shardSlice', () => {
  it('gives every pod of an Indexed Job every N-th request, and the pods together cover the schedule once', () => {
    const s = buildSchedule([{ rate: 10, duration: 1 }], 'even', 0, 0);
    const parts = [0, 1, 2].map((i) => shardSlice(s, i, 3));
    expect(parts[1]!.map((x) => x.seq)).toEqual([1, 4, 7]);
    expect(parts.flat().map((x) => x.seq).sort((a, b) => a - b)).toEqual(s.map((x) => x.seq));
  });

  it('knows each shard\'s size and positions without building the schedule', () => {
    for (const total of [0, 1, 2, 7, 10, 11]) {
      const s = buildSchedule([{ rate: total || 1, duration: 1 }], 'even', 0, 0).slice(0, total);
      for (const shards of [1, 2, 3, 4, 12]) {
        for (let i = 0; i < shards; i++) {
          expect(shardSize(total, i, shards)).toBe(shardSlice(s, i, shards).length);
          expect([...shardSeqs(total, i, shards)]).toEqual(shardSlice(s, i, shards).map((x) => x.seq));
        }
      }
    }
  });
});

describe('scheduleSlots (the schedule one request at a time)', () => {
  it('starts a run of a billion requests without building it', () => {
    const it = scheduleSlots([{ rate: 1_000_000, duration: 1000 }], 'poisson', 0, 3);
    const first = [it.next().value, it.next().value, it.next().value];
    expect(first.map((x) => x?.seq)).toEqual([0, 1, 2]);
    expect(first[0]!.offsetMs).toBe(0);
    expect(first[2]!.offsetMs).toBeGreaterThan(first[1]!.offsetMs);
  });

  it('rescales normalized-exponential gaps by a first pass that keeps only the sums: a three-stage schedule ends each stage exactly', () => {
    const s = buildSchedule([{ rate: 5, duration: 10 }, { rate: 20, duration: 5 }, { rate: 1, duration: 30 }], 'normalized-exponential', 2, 11);
    const byStage = [0, 1, 2].map((k) => s.filter((x) => x.stage === k));
    expect(byStage.map((x) => x.length)).toEqual([50, 100, 30]);
    // The stage's gaps sum to its duration; the last gap (after its last request) is drawn but not placed.
    expect(byStage[1]![0]!.offsetMs).toBe(10_000 + 2_000);
    expect(byStage[2]![0]!.offsetMs).toBe(10_000 + 2_000 + 5_000 + 2_000);
    for (const st of byStage) expect(st.every((x, i) => i === 0 || x.offsetMs > st[i - 1]!.offsetMs)).toBe(true);
  });
});

describe('pace (a pure function of elapsed time and requests sent)', () => {
  const slots = buildSchedule([{ rate: 2, duration: 2 }], 'even', 0, 0); // 0, 500, 1000, 1500 ms
  it.each([
    { elapsed: 0, sent: 0, want: { kind: 'send', seq: 0 } },
    { elapsed: 0, sent: 1, want: { kind: 'wait', ms: 500 } },
    { elapsed: 499.5, sent: 1, want: { kind: 'wait', ms: 0.5 } },
    { elapsed: 500, sent: 1, want: { kind: 'send', seq: 1 } },
    // Late (the loop was busy): send at once, the lateness becomes schedule delay.
    { elapsed: 1700, sent: 2, want: { kind: 'send', seq: 2 } },
    { elapsed: 1700, sent: 3, want: { kind: 'send', seq: 3 } },
    { elapsed: 1700, sent: 4, want: { kind: 'stop' } },
  ])('elapsed $elapsed ms, $sent sent → $want.kind', ({ elapsed, sent, want }) => {
    const d = pace(slots[sent], elapsed);
    expect(d.kind).toBe(want.kind);
    if (d.kind === 'send') expect(d.slot.seq).toBe(want.seq);
    if (d.kind === 'wait') expect(d.ms).toBeCloseTo(want.ms!, 9);
  });

  it('drives a whole schedule with an injected clock', () => {
    let now = 0;
    const sentAt: number[] = [];
    for (;;) {
      const d = pace(slots[sentAt.length], now);
      if (d.kind === 'stop') break;
      if (d.kind === 'wait') now += d.ms; // the fake clock jumps exactly to the deadline
      else sentAt.push(now);
    }
    expect(sentAt).toEqual([0, 500, 1000, 1500]);
  });

  it('a runner\'s workers split exactly that runner\'s slice between them (workerShard)', () => {
    const total = 47;
    for (const [runners, workers] of [[1, 4], [3, 2], [2, 3]] as const) {
      for (let i = 0; i < runners; i++) {
        const own = [...shardSeqs(total, i, runners)];
        const split = Array.from({ length: workers }, (_, w) => workerShard({ index: i, count: runners }, w, workers)).flatMap((sh) => [...shardSeqs(total, sh.index, sh.count)]);
        expect(split.sort((a, b) => a - b)).toEqual(own);
      }
    }
  });
});
