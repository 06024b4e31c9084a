import { AGGREGATION_ALLOWANCE_SECONDS } from './build.ts';
import type { RunSpec } from './run-spec.ts';

/** Step Functions Standard keeps at most this many events in one execution's history. */
export const EXECUTION_HISTORY_LIMIT = 25_000;
/** Events one Job poll writes: Wait (2), GetJob (5), CountPoll (2), JobState? (2). */
export const EVENTS_PER_POLL = 11;
/**
 * Events a poll adds when it looks further: InspectJobEvents (5) + RunnerPodRefused? (2) when the Job
 * has no pod at all, or InspectPendingPods (5) + RunnerUnschedulable? (2) when it has pods but none
 * ready past the scheduling grace — never both. Counted for every poll, the worst case (a Job a queue
 * holds suspended, with no pod and no event, until its deadline).
 */
export const EVENTS_PER_INSPECTED_POLL = 7;
/** Events of everything else in an execution (PrepareRun … Cleanup), with room to spare. */
export const EVENTS_OUTSIDE_POLLING = 200;

/**
 * What makes a run impossible to finish in one execution, in words naming both numbers and the fix:
 * a Job deadline that, with aggregation, outlasts the execution timeout; or more polls than the
 * execution history holds. PrepareRun refuses such a run before anything is created.
 */
export function runLimitProblems(spec: RunSpec, workflowTimeoutSeconds: number): string[] {
  const problems: string[] = [];
  const needed = spec.job.activeDeadlineSeconds + AGGREGATION_ALLOWANCE_SECONDS;
  if (needed > workflowTimeoutSeconds) {
    problems.push(
      `overrides.load: the Job's deadline (${spec.job.activeDeadlineSeconds} s = ${spec.job.loadSeconds} s of load + the stack's deadline margin) plus ${AGGREGATION_ALLOWANCE_SECONDS} s for aggregation is ${needed} s, longer than the workflow timeout of ${workflowTimeoutSeconds} s; shorten the load, or raise the stack's workflowTimeoutMinutes to at least ${Math.ceil(needed / 60)}`,
    );
  }
  const events = spec.job.maxPolls * (EVENTS_PER_POLL + EVENTS_PER_INSPECTED_POLL) + EVENTS_OUTSIDE_POLLING;
  if (events > EXECUTION_HISTORY_LIMIT) {
    const perPoll = EVENTS_PER_POLL + EVENTS_PER_INSPECTED_POLL;
    const interval = Math.ceil(((spec.job.activeDeadlineSeconds + 120) * perPoll) / (EXECUTION_HISTORY_LIMIT - EVENTS_OUTSIDE_POLLING - perPoll));
    problems.push(
      `overrides.load: polling the Job every ${spec.job.pollIntervalSeconds} s until its deadline takes ${spec.job.maxPolls} polls, about ${events} execution events, over Step Functions' limit of ${EXECUTION_HISTORY_LIMIT}; raise the stack's pollIntervalSeconds to at least ${interval} or shorten the load`,
    );
  }
  return problems;
}
