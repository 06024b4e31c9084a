/** The load generators a run can use (its own module: the history's context and run.json both name them). */
export const runnerKinds = ['native', 'inference-perf'] as const;
export type RunnerKind = (typeof runnerKinds)[number];
