import { derivedFiles, isDerived, type DerivedFile } from '../run-layout.ts';

/** One object/file of a run, keyed relative to the run's root with `/` separators. */
export interface StoreEntry {
  key: string;
  size: number;
  lastModifiedMs: number;
}

/**
 * A run's directory or S3 prefix as the aggregator sees it (the port; `aggregator/fs-run-store.ts`
 * and `aws/s3-run-store.ts` are its adapters). It can list and read everything but write only the
 * derived files (run-layout.ts): raw results are never overwritten through it.
 */
export interface RunStore {
  /** `/path/to/run` or `s3://bucket/prefix/`, for messages. */
  readonly location: string;
  list(): Promise<StoreEntry[]>;
  open(key: string): Promise<NodeJS.ReadableStream>;
  readText(key: string): Promise<string>;
  /** Writes one derived file (replacing it whole, never half-written); returns its full location. */
  writeDerived(name: DerivedFile, body: string, contentType: string): Promise<string>;
}

export function assertDerived(name: string): asserts name is DerivedFile {
  if (!isDerived(name)) {
    throw new Error(`refusing to write ${name}: only ${derivedFiles.join(', ')} may be written into a run (raw results are never overwritten)`);
  }
}
