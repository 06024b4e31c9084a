import { z } from 'zod';

/**
 * What the aggregator read and what it could not use: the `input` section of summary.json. Bad
 * files (corrupt gzip, truncated JSON) and bad records (schema, negative/NaN/out-of-order times)
 * are counted and named here, never dropped silently; any of them makes the run invalid.
 */
export const InputProblem = z.object({
  /** Object key / file path relative to the run root. */
  file: z.string(),
  /** `line 12`, `element 5`, … — absent when the whole file is the problem. */
  where: z.string().optional(),
  problem: z.string(),
});
export type InputProblem = z.infer<typeof InputProblem>;

export const InputReport = z.object({
  /** Which tool's output was read. */
  source: z.enum(['native', 'inference-perf']),
  /** Result files read (shard parts, or inference-perf's per-request file). */
  files: z.number().int().nonnegative(),
  /** Records read and used. */
  records: z.number().int().nonnegative(),
  /** Records that failed validation (not measured). */
  badRecords: z.number().int().nonnegative(),
  /** Files that could not be read to the end (records before the damage are kept). */
  badFiles: z.number().int().nonnegative(),
  /** The first problems found (at most `maxProblems`); `omittedProblems` counts the rest. */
  problems: z.array(InputProblem),
  omittedProblems: z.number().int().nonnegative(),
});
export type InputReport = z.infer<typeof InputReport>;

export const maxProblems = 20;

/** Mutable counterpart of {@link InputReport}; one per file while reading, merged at the end. */
export class InputTally {
  files = 0;
  records = 0;
  badRecords = 0;
  badFiles = 0;
  readonly problems: InputProblem[] = [];
  omittedProblems = 0;

  constructor(readonly source: InputReport['source']) {}

  fileRead(): void {
    this.files += 1;
  }

  recordUsed(): void {
    this.records += 1;
  }

  badRecord(file: string, where: string, problem: string): void {
    this.badRecords += 1;
    this.note({ file, where, problem });
  }

  badFile(file: string, problem: string): void {
    this.badFiles += 1;
    this.note({ file, problem });
  }

  /** A problem with the run's inputs that is neither a record nor an unreadable file (e.g. a missing shard). */
  problem(file: string, problem: string): void {
    this.note({ file, problem });
  }

  merge(other: InputTally): void {
    this.files += other.files;
    this.records += other.records;
    this.badRecords += other.badRecords;
    this.badFiles += other.badFiles;
    for (const p of other.problems) this.note(p);
    this.omittedProblems += other.omittedProblems;
  }

  report(): InputReport {
    return {
      source: this.source,
      files: this.files,
      records: this.records,
      badRecords: this.badRecords,
      badFiles: this.badFiles,
      problems: [...this.problems],
      omittedProblems: this.omittedProblems,
    };
  }

  private note(p: InputProblem): void {
    if (this.problems.length < maxProblems) this.problems.push(p);
    else this.omittedProblems += 1;
  }
}

/** Validity reasons for damaged input: a person reading them knows which file to look at. */
export function inputReasons(report: InputReport): string[] {
  const reasons: string[] = [];
  const first = (pred: (p: InputProblem) => boolean): string => {
    const p = report.problems.find(pred);
    return p ? ` First: ${p.file}${p.where ? ` ${p.where}` : ''}: ${p.problem}.` : '';
  };
  if (report.badFiles > 0) {
    reasons.push(
      `${report.badFiles} result file(s) could not be read to the end (corrupt or truncated), so requests are missing from the numbers.${first((p) => p.where === undefined)} Re-upload the file from the runner's copy or run again.`,
    );
  }
  if (report.badRecords > 0) {
    reasons.push(
      `${report.badRecords} request record(s) were malformed or had impossible times and were not measured.${first((p) => p.where !== undefined)} Check the runner version that wrote them.`,
    );
  }
  return reasons;
}
