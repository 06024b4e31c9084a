import type { FailureKind } from './causes.ts';

/** The workflow's state names: the definition, the local workflow and the tests read them from here. */
export const STATE = {
  prepareRun: 'PrepareRun',
  findTargetPods: 'FindTargetPods',
  targetPodRunning: 'TargetPodRunning?',
  locateZone: 'LocateZone',
  zoneKnown: 'ZoneKnown?',
  pinToZone: 'PinToZone',
  affinityToTargetPods: 'AffinityToTargetPods',
  recordZone: 'RecordZone',
  ensureServiceAccount: 'EnsureServiceAccount',
  serviceAccountExists: 'ServiceAccountExists',
  createConfigMap: 'CreateConfigMap',
  composePodTemplate: 'ComposePodTemplate',
  createJob: 'CreateJob',
  initPoll: 'InitPoll',
  waitForJob: 'WaitForJob',
  getJob: 'GetJob',
  countPoll: 'CountPoll',
  jobState: 'JobState?',
  jobSucceeded: 'JobSucceeded',
  inspectRunnerPods: 'InspectRunnerPods',
  runnerLogKept: 'RunnerLogKept?',
  aggregate: 'Aggregate',
  publish: 'Publish',
  deleteJob: 'DeleteJob',
  deleteConfigMap: 'DeleteConfigMap',
  cleanedUp: 'CleanedUp',
  outcome: 'Outcome?',
  runSummary: 'RunSummary',
  succeeded: 'Succeeded',
  runFailed: 'RunFailed',
} as const;

export const failureStateName = (kind: FailureKind) => `Describe${kind}`;
