import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { RequestRecord } from '../../runtime/core/records/index.ts';

/** Every request record a run directory holds, from all of its shards' part files. */
export async function readRecords(dir: string): Promise<RequestRecord[]> {
  const files = (await readdir(join(dir, 'requests'))).filter((f) => f.endsWith('.ndjson.gz'));
  const lines = (await Promise.all(files.map(async (f) => gunzipSync(await readFile(join(dir, 'requests', f))).toString('utf8'))))
    .join('')
    .split('\n')
    .filter(Boolean);
  return lines.map((l) => RequestRecord.parse(JSON.parse(l)));
}
