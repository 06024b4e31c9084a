import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../core/errors.ts';
import { REQUESTS_DIR } from '../core/run-layout.ts';

/** Refuses to write into a directory that already holds files: raw results are never overwritten. */
export async function createRunDir(dir: string): Promise<void> {
  const existing = await readdir(dir).catch(() => null);
  if (existing && existing.length > 0) {
    throw new InputError('--out', [`${dir} already exists and is not empty`], 'choose another --out or --run-id; results of earlier runs are never overwritten.');
  }
  await mkdir(join(dir, REQUESTS_DIR), { recursive: true });
}
