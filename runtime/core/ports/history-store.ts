import type { HistoryEntry } from '../history/entry.ts';

/**
 * The history of one series (scenario × model) as the aggregator sees it: every entry it can read,
 * and the names of those it cannot (listed, never fatal: one bad file must not stop a night's
 * comparison), and a writer for one run's own entry. Adapters: aggregator/fs-history-store.ts,
 * aws/s3-history-store.ts.
 */
export interface HistoryStore {
  /** The series' directory or s3:// prefix, for messages. */
  readonly location: string;
  list(): Promise<{ entries: HistoryEntry[]; unreadable: string[] }>;
  /** Writes (or replaces) this run's entry; returns its full location. */
  put(entry: HistoryEntry): Promise<string>;
}

/** How a store is found for a series once the aggregator knows the run's scenario and model. */
export type HistoryFor = (series: { scenario: string; model: string }) => HistoryStore;
