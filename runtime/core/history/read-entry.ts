import { validate } from '../errors.ts';
import { HistoryEntry } from './entry.ts';

/** One history file's text → its entry, or why it cannot be used (the one parser of both adapters). */
export function parseHistoryEntry(text: string): { entry: HistoryEntry } | { problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { problem: `not JSON: ${(e as Error).message}` };
  }
  const r = validate(HistoryEntry, raw, { max: 3 });
  return r.ok ? { entry: r.data } : { problem: r.problems.join('; ') };
}

/** At most this many entries are read per series (the newest by run id): years of nights. */
export const HISTORY_READ_LIMIT = 400;
