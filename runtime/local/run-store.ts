import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';

/** One object/file of a run, keyed relative to the run's root with `/` separators. */
export interface StoreEntry {
  key: string;
  size: number;
  lastModifiedMs: number;
}

/**
 * The derived outputs the aggregator may write (and overwrite: they are recomputed from the raw
 * data every time). Everything else in a run — `requests/`, `raw/`, `run.json`, `run-spec.json`,
 * `config.yml` — is raw and is never written by the aggregator.
 */
export const derivedOutputs = ['summary.json', 'histograms.json', 'report.html'] as const;
export type DerivedOutput = (typeof derivedOutputs)[number];

/** A run's directory or S3 prefix, as the aggregator sees it. */
export interface RunStore {
  /** `/path/to/run` or `s3://bucket/prefix/` — for messages. */
  readonly location: string;
  list(): Promise<StoreEntry[]>;
  open(key: string): Promise<Readable>;
  readText(key: string): Promise<string>;
  /** Writes one derived output; returns its full location. */
  writeDerived(name: DerivedOutput, body: string, contentType: string): Promise<string>;
}

export function assertDerived(name: string): asserts name is DerivedOutput {
  if (!(derivedOutputs as readonly string[]).includes(name)) {
    throw new Error(`refusing to write ${name}: the aggregator writes only ${derivedOutputs.join(', ')} (raw results are never overwritten)`);
  }
}

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
        else if (e.isFile()) {
          const st = await stat(full);
          out.push({ key: relative(this.location, full).split(sep).join('/'), size: st.size, lastModifiedMs: st.mtimeMs });
        }
      }
    };
    await walk(this.location);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async open(key: string): Promise<Readable> {
    return createReadStream(join(this.location, key));
  }

  async readText(key: string): Promise<string> {
    return readFile(join(this.location, key), 'utf8');
  }

  async writeDerived(name: DerivedOutput, body: string): Promise<string> {
    assertDerived(name);
    const path = join(this.location, name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, body);
    return path;
  }
}
