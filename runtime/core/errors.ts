import type { z } from 'zod';

/**
 * A problem the user can fix: names the input, lists every problem found, and says how to fix it.
 * Entry points print `message` and exit non-zero; nothing else about the error is shown.
 */
export class InputError extends Error {
  constructor(
    readonly input: string,
    readonly problems: string[],
    readonly fix?: string,
  ) {
    super(formatInputError(input, problems, fix));
    this.name = 'InputError';
  }
}

function formatInputError(input: string, problems: string[], fix?: string): string {
  const head = problems.length === 1 ? `${input}: ${problems[0]}` : `${input}: ${problems.length} problems:\n${problems.map((p) => `  - ${p}`).join('\n')}`;
  return fix ? `${head}\nFix: ${fix}` : head;
}

/** `a.b[0].c` — the one path style of every message; '' for the root. */
export function pathText(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)), '');
}

export const ROOT_PATH = '(top level)';

export interface IssueOptions {
  /** Path segments in front of every issue's own path (e.g. `['overrides']`). */
  at?: ReadonlyArray<PropertyKey>;
  /** The keys accepted at a path, named in unknown-key messages. */
  supportedKeys?: (path: ReadonlyArray<PropertyKey>) => string[];
  /** At most this many problems (the rest are counted in one line). */
  max?: number;
}

/**
 * zod issues → the project's problem lines (`path: what is wrong`), one formatter for every input
 * the project validates. Parse with `{ reportInput: true }` (see `validate`), so a wrong type is
 * told apart from a missing value.
 */
export function issueProblems(issues: ReadonlyArray<z.core.$ZodIssue>, o: IssueOptions = {}): string[] {
  const prefix = o.at ?? [];
  const lines = issues.map((issue) => {
    const path = [...prefix, ...issue.path];
    const at = pathText(path) || ROOT_PATH;
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => pathText([...path, k]));
      const supported = o.supportedKeys?.(path) ?? [];
      return `${keys.join(', ')}: unknown or unsupported key${keys.length > 1 ? 's' : ''}${supported.length ? `; supported keys at ${at}: ${supported.join(', ')}` : ''}`;
    }
    if (issue.code === 'invalid_value') {
      return `${at}: unsupported value${'input' in issue && issue.input !== undefined ? ` ${shown(issue.input)}` : ''}; supported: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    }
    if (issue.code === 'invalid_type') {
      if (!('input' in issue) || issue.input === undefined) return `${at}: required`;
      return `${at}: expected ${issue.expected}, got ${shown(issue.input)}`;
    }
    // A format check (regex): say what was given, so a typo is seen at once.
    if (issue.code === 'invalid_format' && issue.format === 'regex' && 'input' in issue && issue.input !== undefined) return `${at}: ${shown(issue.input)} ${issue.message}`;
    return `${at}: ${issue.message}`;
  });
  if (o.max !== undefined && lines.length > o.max) return [...lines.slice(0, o.max), `… and ${lines.length - o.max} more`];
  return lines;
}

/**
 * Parses with `schema`; returns the data, or the problems as `issueProblems` words them. The one way
 * inputs are validated, so every message has the same shape.
 */
export function validate<T extends z.ZodType>(schema: T, raw: unknown, o: IssueOptions = {}): { ok: true; data: z.output<T> } | { ok: false; problems: string[] } {
  const r = schema.safeParse(raw, { reportInput: true });
  return r.success ? { ok: true, data: r.data } : { ok: false, problems: issueProblems(r.error.issues, o) };
}

function shown(v: unknown): string {
  const text = typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v === 'object' ? 'an object' : String(v);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

/**
 * Work that could not be finished through no fault of the input — an upload that failed after the
 * run was measured — said in one message with what was kept and what to do (exit 1, no stack).
 */
export class OperationFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OperationFailed';
  }
}
