import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/**
 * Temporary directories that remove themselves: `const tempDir = useTempDirs()` at the top of a
 * test file, then `await tempDir()` wherever one is needed; every directory it made is removed
 * after the file's tests (the suite leaves nothing in the temp folder).
 */
export function useTempDirs(prefix = 'ib-'): () => Promise<string> {
  const made: string[] = [];
  afterAll(async () => {
    await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
}
