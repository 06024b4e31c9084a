import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { FsHistoryStore } from '../../aggregator/fs-history-store.ts';
import { S3HistoryStore } from '../../aws/s3-history-store.ts';
import { listObjects, parseS3Url } from '../../aws/s3.ts';
import { checkBucket } from '../../aws/s3-access.ts';
import { InputError } from '../../core/errors.ts';
import { byStart, type HistoryEntry } from '../../core/history/entry.ts';
import type { HistoryStore } from '../../core/ports/history-store.ts';
import { HISTORY_DIR, RUN_MANIFEST_FILE, SUMMARY_FILE } from '../../core/run-layout.ts';
import { EXIT } from '../exit-codes.ts';
import { RunLocations } from '../support/locations.ts';

/**
 * `inference-baseline history <dir | s3://…>`: every series under a results location (or the one
 * series named), run by run: when, valid or not, the key metrics, the verdict of its comparison
 * and what changed since the run before. Read-only.
 */
export async function historyCommand(location: string, o: { endpoint?: string }, io: { stdout: NodeJS.WritableStream }): Promise<number> {
  const locations = new RunLocations(o.endpoint);
  try {
    const stores = location.startsWith('s3://') ? await s3Series(locations, location, o.endpoint) : await localSeries(location);
    if (stores.length === 0) {
      throw new InputError(location, [`holds no history (no ${HISTORY_DIR}/<scenario>/<model>/ entries)`], 'point at the --out directory of `run`/`workflow` (or the bucket), after at least one aggregated run.');
    }
    for (const store of stores) {
      const { entries, unreadable } = await store.list();
      io.stdout.write(`${formatSeries(store.location, entries.sort(byStart))}\n`);
      for (const u of unreadable) io.stdout.write(`(unreadable entry skipped: ${u})\n`);
      io.stdout.write('\n');
    }
    return EXIT.ok;
  } finally {
    locations.close();
  }
}

/** `<out>`, `<out>/history`, `<out>/history/<scenario>` or one series directory. */
async function localSeries(location: string): Promise<HistoryStore[]> {
  const dir = resolve(location);
  if (!(await stat(dir).catch(() => null))?.isDirectory()) {
    throw new InputError(location, ['is not a directory'], 'pass the --out directory of `run`/`workflow` (it holds history/), or a directory under it.');
  }
  await refuseRunDirectory(location, dir);
  const subdirs = async (d: string): Promise<string[]> => (await readdir(d, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory()).map((e) => join(d, e.name)).sort();
  const hasEntries = async (d: string): Promise<boolean> => (await readdir(d).catch(() => [] as string[])).some((n) => n.endsWith('.json'));
  if (await hasEntries(dir)) return [new FsHistoryStore(dir)];
  const root = basename(dir) === HISTORY_DIR ? dir : join(dir, HISTORY_DIR);
  const series: string[] = [];
  for (const scenario of await subdirs(root)) for (const model of await subdirs(scenario)) if (await hasEntries(model)) series.push(model);
  if (series.length === 0) for (const model of await subdirs(dir)) if (await hasEntries(model)) series.push(model);
  return series.map((d) => new FsHistoryStore(d));
}

/**
 * One run's directory (run.json or summary.json in it) is not a results directory: its files are
 * not history entries. Said as such, with its parent — where `run`/`workflow` keep history/ — to pass instead.
 */
async function refuseRunDirectory(location: string, dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const found = [RUN_MANIFEST_FILE, SUMMARY_FILE].filter((n) => names.includes(n));
  if (found.length === 0) return;
  const trimmed = location.replace(/[/\\]+$/, '');
  const parent = trimmed === '' || trimmed === '.' || trimmed === '..' || basename(trimmed) === '..' ? dirname(dir) : dirname(trimmed);
  throw new InputError(
    location,
    [`is one run's directory (it holds ${found.join(' and ')}), not a results directory: history reads the directory that holds the runs and ${HISTORY_DIR}/`],
    `pass its parent, the --out directory of \`run\`/\`workflow\`: \`inference-baseline history ${parent}\`${found.includes(SUMMARY_FILE) ? `; to compare this run with its history, \`inference-baseline compare ${location}\`` : ''}.`,
  );
}

/** Every series under `s3://bucket/<prefix>history/` (or the series the prefix names). */
async function s3Series(locations: RunLocations, location: string, endpoint: string | undefined): Promise<HistoryStore[]> {
  const { bucket, prefix } = parseS3Url(location);
  const base = prefix.includes(`${HISTORY_DIR}/`) ? prefix : `${prefix}${HISTORY_DIR}/`;
  // An endpoint that is down, a wrong region or credentials: said in words, as aggregate and compare say them.
  await checkBucket(locations.s3(), { bucket, prefix: base }, endpoint);
  const series = new Set<string>();
  for await (const o of listObjects(locations.s3(), bucket, base)) if (o.key.endsWith('.json')) series.add(o.key.slice(0, o.key.lastIndexOf('/') + 1));
  return [...series].sort().map((p) => new S3HistoryStore(locations.s3(), { bucket, prefix: p }));
}

function formatSeries(location: string, entries: HistoryEntry[]): string {
  const first = entries[0];
  const title = first ? `${first.scenario} / ${first.model}` : location;
  const ms = (e: HistoryEntry, m: string): string => {
    // A percentile the run had too few samples for is not a number to read across a series.
    const est = (e.metrics as Record<string, { value: number | null; supported: boolean }>)[m];
    const v = est?.supported ? est.value : null;
    return v === null ? '–' : v >= 100 ? v.toFixed(1) : v.toFixed(2);
  };
  const header = ['started (UTC)', 'run', 'valid', 'ttft p50', 'ttft p99', 'itl p50', 'e2e p50', 'verdict', 'what changed'];
  const rows = entries.map((e) => [
    e.startedAt ? e.startedAt.slice(0, 16).replace('T', ' ') : '?',
    e.runId,
    e.valid ? 'yes' : 'NO',
    ms(e, 'ttft_p50'),
    ms(e, 'ttft_p99'),
    ms(e, 'itl_p50'),
    ms(e, 'e2e_p50'),
    e.verdict === 'regressed' ? `regressed (${e.regressed.join(', ')})` : (e.verdict ?? '–'),
    e.changes.join('; '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const numeric = new Set([3, 4, 5, 6]);
  const line = (cells: string[]): string => cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const workloads = new Set(entries.map((e) => e.context.fingerprint)).size;
  const targets = new Set(entries.map((e) => e.context.target)).size;
  return [
    `series ${title} — ${entries.length} run(s), ${workloads} workload(s), ${targets} target(s); ${location}`,
    line(header),
    ...rows.map(line),
  ].join('\n');
}
