import { createReadStream } from 'node:fs';
import { readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { OperationFailed } from '../core/errors.ts';
import { assertDerived, type RunStore, type StoreEntry } from '../core/ports/run-store.ts';
import type { DerivedFile } from '../core/run-layout.ts';

/** A run directory on the local disk (native `--out <dir>`, or inference-perf's local_storage path). */
export class FsRunStore implements RunStore {
  constructor(readonly location: string) {}

  async list(): Promise<StoreEntry[]> {
    const out: StoreEntry[] = [];
    const walk = async (dir: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true });
      for (const e of entries) {
        const full = join(dir, e.name);
        if (e.isDirectory()) await walk(full);
        else if (e.isFile() && !e.name.endsWith(TMP_SUFFIX)) {
          const st = await stat(full);
          out.push({ key: relative(this.location, full).split(sep).join('/'), size: st.size, lastModifiedMs: st.mtimeMs });
        }
      }
    };
    await walk(this.location);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async open(key: string): Promise<NodeJS.ReadableStream> {
    return createReadStream(join(this.location, key));
  }

  async readText(key: string): Promise<string> {
    return readFile(join(this.location, key), 'utf8');
  }

  /** Written beside the target and renamed over it: a full disk leaves the old file (or none), never half of one. */
  async writeDerived(name: DerivedFile, body: string): Promise<string> {
    assertDerived(name);
    const path = join(this.location, name);
    const tmp = `${path}.${process.pid}${TMP_SUFFIX}`;
    try {
      await writeFile(tmp, body);
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOSPC' ? 'the disk is full' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EROFS' ? 'the file system is read-only' : (err as Error).message;
      throw new OperationFailed(
        `cannot write ${path}: ${why}${code ? ` (${code})` : ''}. The run's raw files are untouched and the previous ${name} (if any) is kept; fix that and run "inference-baseline aggregate ${this.location}" again.`,
      );
    }
    return path;
  }
}

const TMP_SUFFIX = '.partial';
