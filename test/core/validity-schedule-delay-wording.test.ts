import { validityRules } from '../../runtime/core/scenario/validity-rules.ts';
import { describe, expect, it } from 'vitest';
import { formatSummary } from '../../runtime/cli/table.ts';
import { RunAccumulator } from '../../runtime/core/metrics/accumulator.ts';
import { InputTally } from '../../runtime/core/records/input-report.ts';
import type { RequestRecord } from '../../runtime/core/records/record.ts';
import type { RunIdentity, RunRequest } from '../../runtime/core/records/run-manifest.ts';
import { finish } from '../../runtime/core/summary/finalize.ts';
import type { Summary } from '../../runtime/core/summary/schema.ts';

/**
 * The first screen of a run: the percentile table stars a percentile its samples cannot support
 * ("too few samples"), and the validity reasons below it must not quote that percentile as if it
 * were measured. A run of 1 req/s whose every send is `lateMs` late, judged as the aggregator does.
 */
const identity: RunIdentity = { runId: 'r', scenario: 'baseline', model: 'm', target: 'http://t', zone: null, runner: { kind: 'native', version: 'test' }, api: 'completion', streaming: true };

function lateRun(requests: number, lateMs: (seq: number) => number): Summary {
  const request: RunRequest = { arrival: 'even', stages: [{ rate: 1, duration: requests }], ignoreEos: true, validity: { ...validityRules(undefined), minSuccesses: 1 } };
  const acc = new RunAccumulator(true);
  for (let seq = 0; seq < requests; seq++) {
    const scheduledAt = 1000 + seq * 1000;
    const sentAt = scheduledAt + lateMs(seq);
    const contentTimes = [100, 110, 120, 130].map((t) => sentAt + t);
    const r: RequestRecord = {
      v: 1, runId: 'r', shard: 0, seq, stage: 0, scheduledAt, sentAt, firstTokenAt: contentTimes[0]!, doneAt: contentTimes[3]! + 0.5, contentTimes,
      inputTokens: { requested: 512, client: 512, server: 512 }, outputTokens: { requested: 4, client: 4, server: 4 }, status: 200, error: null,
    };
    acc.add(r);
  }
  return finish(acc.measure(identity, request, { scheduled: requests, partial: false }), request, new InputTally('native').report());
}

/** The schedule_delay row of the table `run` prints: its p99 and max cells. */
function delayRow(text: string): { p99: string; max: string } {
  const cells = text.split('\n').find((l) => l.startsWith('schedule_delay'))!.trim().split(/\s+/);
  // metric, count, p50, p90, p95, p99, max, mean
  return { p99: cells[5]!, max: cells[6]! };
}

describe('the schedule-delay reason says what the table shows', () => {
  it('30 sends, each 30 ms late: the table stars p99, so the reason quotes the largest delay, the count and the 100 a p99 needs', () => {
    const s = lateRun(30, () => 30);
    const text = formatSummary(s);
    const row = delayRow(text);
    expect(row.p99.endsWith('*')).toBe(true);
    expect(s.validity.valid).toBe(false);
    const reason = s.validity.reasons.find((r) => r.startsWith('Schedule delay'))!;
    expect(reason).not.toMatch(/\bp99 (was|of)\b/);
    expect(reason).toBe(
      'Schedule delay reached 30 ms, the largest of only 30 sends (too few for the p99 the 10 ms limit applies to, which needs 100; one late send in 30 is already more than 1 %): the load generator could not send on time, so it measured itself. Give the runner more CPU or spread the load over more shards.',
    );
    // The figure quoted is the table's max column, not its starred p99.
    expect(Number(row.max)).toBe(30);
    expect(text).toContain(`  - ${reason}`);
  });

  it('one send, 30 ms late: "the largest of only 1 send"', () => {
    expect(lateRun(1, () => 30).validity.reasons).toEqual([expect.stringMatching(/^Schedule delay reached 30 ms, the largest of only 1 send \(too few for the p99 /)]);
  });

  it('120 sends, 2 of them 30 ms late: p99 is supported and shown unstarred, so the reason quotes it', () => {
    const s = lateRun(120, (seq) => (seq >= 118 ? 30 : 0.5));
    const row = delayRow(formatSummary(s));
    expect(row.p99.endsWith('*')).toBe(false);
    expect(s.validity.reasons).toEqual([expect.stringMatching(/^Schedule delay p99 was 30 ms \(limit 10 ms\): the load generator could not send on time/)]);
    expect(Number(row.p99)).toBe(30);
  });
});
