import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { getObjectStream, listObjects } from '../aws/s3.ts';
import type { LocalEnvironment } from './environment.ts';
import type { ExecutionRecord } from './workflow.ts';

/** What the local workflow leaves beside a run's files (they are not in the run's S3 prefix). */
export const EXECUTION_FILE = 'execution.json';
export const EMF_FILE = 'metrics.emf.ndjson';

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
  const { emf, ...rest } = record;
  await writeFile(join(dir, EXECUTION_FILE), `${JSON.stringify(rest, null, 2)}\n`, { flag: 'wx' });
  if (emf.length > 0) await writeFile(join(dir, EMF_FILE), emf.map((d) => JSON.stringify(d)).join('\n') + '\n', { flag: 'wx' });
  return dir;
}
