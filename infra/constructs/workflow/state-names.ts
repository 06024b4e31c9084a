import type { FailureKind } from './causes.ts';

/** The workflow's state names: the definition, the local workflow and the tests read them from here. */
export const STATE = {
  prepareRun: 'PrepareRun',
  findTargetPods: 'FindTargetPods',
  targetPodRunning: 'TargetPodRunning?',
  describeTarget: 'DescribeTarget',
  locateZone: 'LocateZone',
  zoneKnown: 'ZoneKnown?',
  pinToZone: 'PinToZone',
  affinityToTargetPods: 'AffinityToTargetPods',
  recordZone: 'RecordZone',
  findServiceAccount: 'FindServiceAccount',
  serviceAccountFound: 'ServiceAccountFound?',
  createServiceAccount: 'CreateServiceAccount',
  serviceAccountReady: 'ServiceAccountReady',
  composePodTemplate: 'ComposePodTemplate',
  createJob: 'CreateJob',
  createConfigMap: 'CreateConfigMap',
  initPoll: 'InitPoll',
  waitForJob: 'WaitForJob',
  getJob: 'GetJob',
  countPoll: 'CountPoll',
  jobState: 'JobState?',
  jobSucceeded: 'JobSucceeded',
  inspectRunnerPods: 'InspectRunnerPods',
  runnerLogKept: 'RunnerLogKept?',
  inspectPendingPods: 'InspectPendingPods',
  runnerUnschedulable: 'RunnerUnschedulable?',
  aggregate: 'Aggregate',
  publish: 'Publish',
  regressed: 'Regressed?',
  notifyRegression: 'NotifyRegression',
  deleteJob: 'DeleteJob',
  deleteConfigMap: 'DeleteConfigMap',
  releaseRun: 'ReleaseRun',
  cleanedUp: 'CleanedUp',
  outcome: 'Outcome?',
  runSummary: 'RunSummary',
  succeeded: 'Succeeded',
  runFailed: 'RunFailed',
} as const;

/** The reaper's states: it cleans up after an execution that ended without its own Cleanup. */
export const REAPER_STATE = {
  resolveRun: 'ResolveRun',
  runObjects: 'RunObjects?',
  reapJob: 'ReapJob',
  reapConfigMap: 'ReapConfigMap',
  reaped: 'Reaped',
  nothingToReap: 'NothingToReap',
} as const;

export const failureStateName = (kind: FailureKind) => `Describe${kind}`;
