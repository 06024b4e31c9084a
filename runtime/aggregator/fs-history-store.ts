import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HistoryEntry } from '../core/history/entry.ts';
import { HISTORY_READ_LIMIT, parseHistoryEntry } from '../core/history/read-entry.ts';
import type { HistoryFor, HistoryStore } from '../core/ports/history-store.ts';
import { historyEntryName, historySeriesPath } from '../core/run-layout.ts';

/** A series' history on the local disk: `<root>/history/<scenario>/<model>/<runId>.json`. */
export class FsHistoryStore implements HistoryStore {
  constructor(readonly location: string) {}

  async list(): Promise<{ entries: HistoryEntry[]; unreadable: string[] }> {
    const names = (await readdir(this.location).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).sort().slice(-HISTORY_READ_LIMIT);
    const entries: HistoryEntry[] = [];
    const unreadable: string[] = [];
    for (const name of names) {
      const parsed = parseHistoryEntry(await readFile(join(this.location, name), 'utf8').catch((e: Error) => e.message));
      if ('entry' in parsed) entries.push(parsed.entry);
      else unreadable.push(`${join(this.location, name)}: ${parsed.problem}`);
    }
    return { entries, unreadable };
  }

  /** Written beside its name and renamed over it, like the derived files: never half an entry. */
  async put(entry: HistoryEntry): Promise<string> {
    await mkdir(this.location, { recursive: true });
    const path = join(this.location, historyEntryName(entry.runId));
    const tmp = `${path}.${process.pid}.partial`;
    try {
      await writeFile(tmp, `${JSON.stringify(entry, null, 2)}\n`);
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return path;
  }
}

/** Histories under a local root directory (the `--out` directory). */
export function fsHistoryFor(root: string): HistoryFor {
  return ({ scenario, model }) => new FsHistoryStore(join(root, historySeriesPath(scenario, model)));
}
