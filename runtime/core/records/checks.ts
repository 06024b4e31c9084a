import { issueProblems } from '../errors.ts';
import { RequestRecord } from './record.ts';

/**
 * Sanity rules every record must pass before it is counted, whatever tool wrote it. A record that
 * breaks one is not measured (its numbers would be nonsense) and is not dropped silently either: the
 * aggregator counts it and names it in the summary's `input` section, and the run is invalid.
 *
 * Times come from one monotonic clock per process, so the order below is exact (no tolerance):
 * scheduled? · sent ≤ first content ≤ … ≤ last content ≤ done.
 */
export function recordTimeProblem(r: RequestRecord): string | null {
  const named: Array<[string, number | null]> = [
    ['scheduledAt', r.scheduledAt],
    ['sentAt', r.sentAt],
    ['firstTokenAt', r.firstTokenAt],
    ['doneAt', r.doneAt],
  ];
  for (const [name, t] of named) {
    if (t === null) continue;
    if (!Number.isFinite(t)) return `${name} is not a finite number (${t})`;
    if (t < 0) return `${name} is negative (${t})`;
  }
  const times = r.contentTimes;
  for (let i = 0; i < times.length; i++) {
    const t = times[i]!;
    if (!Number.isFinite(t) || t < 0) return `contentTimes[${i}] is ${Number.isFinite(t) ? 'negative' : 'not a finite number'} (${t})`;
    if (i > 0 && t < times[i - 1]!) return `contentTimes are out of order at index ${i} (${t} < ${times[i - 1]})`;
  }
  const sent = r.sentAt;
  if (sent === null) {
    if (r.doneAt !== null || r.firstTokenAt !== null || times.length > 0) return 'sentAt is null but the request has response times';
    return null;
  }
  if (r.doneAt !== null && r.doneAt < sent) return `doneAt (${r.doneAt}) is before sentAt (${sent})`;
  if (r.firstTokenAt !== null && r.firstTokenAt < sent) return `firstTokenAt (${r.firstTokenAt}) is before sentAt (${sent})`;
  if (times.length > 0) {
    if (r.firstTokenAt !== times[0]) return `firstTokenAt (${r.firstTokenAt}) differs from contentTimes[0] (${times[0]})`;
    if (times[0]! < sent) return `contentTimes[0] (${times[0]}) is before sentAt (${sent})`;
    const last = times[times.length - 1]!;
    if (r.doneAt !== null && last > r.doneAt) return `the last content event (${last}) is after doneAt (${r.doneAt})`;
  } else if (r.firstTokenAt !== null) {
    return 'firstTokenAt is set but contentTimes is empty';
  }
  return null;
}

export type LineResult = { ok: true; record: RequestRecord } | { ok: false; problem: string };

/** One NDJSON line of a native shard → a checked record, or the reason it cannot be used. */
export function parseNativeLine(line: string): LineResult {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (e) {
    return { ok: false, problem: `not JSON (${(e as Error).message})` };
  }
  const parsed = RequestRecord.safeParse(raw);
  if (!parsed.success) {
    return { ok: false, problem: `not a v1 request record (${issueProblems(parsed.error.issues, { max: 3 }).join('; ')})` };
  }
  const timeProblem = recordTimeProblem(parsed.data);
  return timeProblem === null ? { ok: true, record: parsed.data } : { ok: false, problem: timeProblem };
}
