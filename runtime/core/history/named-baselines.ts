import { InputError } from '../errors.ts';
import type { Summary } from '../summary/schema.ts';
import type { ComparedRun } from './comparison.ts';

/** A run named as a baseline (`compare <run> <baseline>...`), as read from its location. */
export interface NamedRun {
  location: string;
  summary: Summary;
  run: ComparedRun;
}

/**
 * The runs named that can be a baseline. A run compared with itself always looks unchanged, and a
 * run named twice counts twice: both are refused (a user's mistake, exit 2). Invalid runs are left
 * out (invalidWarnings says so); when none is left, nothing can be compared.
 */
export function usableBaselines(compared: { location: string; run: Pick<ComparedRun, 'runId'> }, named: readonly NamedRun[]): ComparedRun[] {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const n of named) {
    if (n.run.runId === compared.run.runId) {
      problems.push(`baseline ${n.location} is run ${n.run.runId}, the run being compared: a run compared with itself always looks unchanged, so it tells nothing`);
    } else if (seen.has(n.run.runId)) {
      problems.push(`baseline ${n.location} is run ${n.run.runId}, already named as ${seen.get(n.run.runId)}: a run named twice would count twice in the baseline`);
    }
    seen.set(n.run.runId, seen.get(n.run.runId) ?? n.location);
  }
  if (problems.length > 0) {
    throw new InputError(`compare ${compared.location}`, problems, `name other runs of the same workload as the baseline, each once (see \`inference-baseline history\`), or name none to compare with the run's own history.`);
  }
  const valid = named.filter((n) => n.run.valid);
  if (valid.length === 0) {
    const list = named.map((n) => `  - ${n.location} (run ${n.run.runId}): ${n.summary.validity.reasons.join(' ') || 'invalid'}`).join('\n');
    throw new InputError(
      `compare ${compared.location}`,
      [`every baseline run named is invalid, so nothing can be compared (an invalid run's numbers are not a baseline):\n${list}`],
      `name valid runs of the same workload (see \`inference-baseline history\`), or name none to compare with the run's own history.`,
    );
  }
  return valid.map((n) => n.run);
}

/** One warning per invalid run named, with its validity reasons: it is left out of the baseline. */
export function invalidWarnings(named: readonly NamedRun[]): string[] {
  return named
    .filter((n) => !n.run.valid)
    .map((n) => `warning: baseline ${n.location} (run ${n.run.runId}) is INVALID, so it is left out of the baseline:\n${n.summary.validity.reasons.map((r) => `  - ${r}`).join('\n')}`);
}

