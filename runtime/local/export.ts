import { constants as fsConstants, copyFileSync, createWriteStream, mkdirSync, readdirSync, type Dirent } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { getObjectStream, getObjectText, listObjects, putObject } from '../aws/s3.ts';
import { HISTORY_DIR, historyEntryName } from '../core/run-layout.ts';
import type { LocalEnvironment } from './environment.ts';
import type { ExecutionRecord } from './workflow.ts';

/** What the local workflow leaves beside a run's files (they are not in the run's S3 prefix). */
export const EXECUTION_FILE = 'execution.json';
export const EMF_FILE = 'metrics.emf.ndjson';
export const NOTICES_FILE = 'notifications.txt';

/**
 * Copies a finished execution's run out of the local S3 into `<out>/<runId>/` — its whole prefix
 * (run-spec.json, config.yml, run.json, requests/ or raw/, summary.json, histograms.json,
 * report.html) — and writes the execution's record and the EMF lines Publish logged beside it.
 * An execution that failed before PrepareRun built a run goes to `<out>/<execution name>/`.
 */
export async function exportExecution(env: LocalEnvironment, record: ExecutionRecord, out: string): Promise<string> {
  const dir = join(out, record.runSpec?.runId ?? record.name);
  await mkdir(dir, { recursive: true });
  if (record.runSpec) {
    const { bucket, prefix } = record.runSpec.s3;
    for await (const o of listObjects(env.s3Client, bucket, prefix)) {
      const path = join(dir, o.key.slice(prefix.length));
      await mkdir(dirname(path), { recursive: true });
      await pipeline(await getObjectStream(env.s3Client, bucket, o.key), createWriteStream(path, { flags: 'wx' }));
    }
  }
  const { emf, notices, ...rest } = record;
  await writeFile(join(dir, EXECUTION_FILE), `${JSON.stringify(rest, null, 2)}\n`, { flag: 'wx' });
  if (emf.length > 0) await writeFile(join(dir, EMF_FILE), emf.map((d) => JSON.stringify(d)).join('\n') + '\n', { flag: 'wx' });
  if (notices.length > 0) await writeFile(join(dir, NOTICES_FILE), notices.map((n) => `Subject: ${n.Subject ?? ''}\n\n${n.Message ?? ''}\n`).join('\n---\n'), { flag: 'wx' });
  if (record.runSpec?.historyPrefix) await exportHistoryEntry(env, record.runSpec.s3.bucket, record.runSpec.historyPrefix, record.runSpec.runId, out, dir);
  return dir;
}

/**
 * The local S3 lives only as long as one `workflow` command: the series' history is kept in
 * `<out>/history/` between commands. Before an execution its entries are put into the local S3
 * (where Aggregate reads them, as in the cloud); after it, the run's new entry comes back, its
 * location pointing at the exported run directory.
 */
export async function seedHistory(env: LocalEnvironment, bucket: string, out: string): Promise<number> {
  const root = join(out, HISTORY_DIR);
  const files = (await readdir(root, { recursive: true }).catch(() => [] as string[])).filter((f) => f.endsWith('.json'));
  for (const rel of files) {
    const key = `${HISTORY_DIR}/${rel.split(sep).join('/')}`;
    await putObject(env.s3Client, bucket, key, await readFile(join(root, rel)), { contentType: 'application/json' });
  }
  return files.length;
}

async function exportHistoryEntry(env: LocalEnvironment, bucket: string, historyPrefix: string, runId: string, out: string, runDir: string): Promise<void> {
  const key = `${historyPrefix}${historyEntryName(runId)}`;
  let text: string;
  try {
    text = await getObjectText(env.s3Client, bucket, key);
  } catch {
    return; // the run was not aggregated (it failed before Aggregate): no entry
  }
  const entry = JSON.parse(text) as { location: string };
  entry.location = runDir;
  const path = join(out, ...key.split('/'));
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(entry, null, 2)}\n`);
}

/**
 * The second Ctrl-C quits at once, with no time for the S3 API or the runner's last upload: what
 * the run had stored is copied synchronously into `dir` — first from the local S3's files (s3rver
 * keeps each object as `<bucket>/<key>._S3rver_object`), then what the runner pods had written but
 * not yet uploaded (their staging copy of the run, `<pod>/…/<runId>/`: the open request part holds
 * every finished request). Nothing is overwritten. Returns the number of files copied.
 */
export function exportStoredRunSync(env: Pick<LocalEnvironment, 'root'>, bucket: string, prefix: string, runId: string, dir: string): number {
  const SUFFIX = '._S3rver_object';
  let copied = 0;
  const copy = (from: string, to: string): void => {
    mkdirSync(dirname(to), { recursive: true });
    try {
      copyFileSync(from, to, fsConstants.COPYFILE_EXCL);
      copied += 1;
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
    }
  };
  const walk = (root: string, rel: string, onFile: (path: string, rel: string) => void, onDir?: (path: string, rel: string) => boolean): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(join(root, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const path = join(rel, e.name);
      if (e.isDirectory()) {
        if (!onDir || onDir(join(root, path), path)) walk(root, path, onFile, onDir);
      } else onFile(join(root, path), path);
    }
  };
  const stored = join(env.root, 's3', bucket, prefix);
  walk(stored, '', (path, rel) => {
    if (rel.endsWith(SUFFIX)) copy(path, join(dir, rel.slice(0, -SUFFIX.length)));
  });
  // A pod's staging copy is a directory named for the run: copy it whole, then stop descending.
  walk(join(env.root, 'pods'), '', () => undefined, (path, rel) => {
    if (rel.split(sep).pop() !== runId) return true;
    walk(path, '', (file, inner) => copy(file, join(dir, inner)));
    return false;
  });
  return copied;
}
