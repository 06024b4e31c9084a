import type { FailureKind } from './causes.ts';

/** The workflow's state names: the definition, the local workflow and the tests read them from here. */
export const STATE = {
  prepareRun: 'PrepareRun',
  findTargetPods: 'FindTargetPods',
  targetPodRunning: 'TargetPodRunning?',
  describeTarget: 'DescribeTarget',
  listTargetReplicas: 'ListTargetReplicas',
  locateZone: 'LocateZone',
  zoneKnown: 'ZoneKnown?',
  pinToZone: 'PinToZone',
  affinityToTargetPods: 'AffinityToTargetPods',
  recordZone: 'RecordZone',
  findServiceAccount: 'FindServiceAccount',
  serviceAccountFound: 'ServiceAccountFound?',
  createServiceAccount: 'CreateServiceAccount',
  serviceAccountConflict: 'ServiceAccountConflict?',
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
  inspectJobEvents: 'InspectJobEvents',
  runnerPodRefused: 'RunnerPodRefused?',
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
  claimReleased: 'ClaimReleased?',
  reaped: 'Reaped',
  nothingToReap: 'NothingToReap',
  /** The run's claim could not be released (its objects were deleted first): the reaper fails, and its alarm fires. */
  claimNotReleased: 'ClaimNotReleased',
  /** ResolveRun itself failed: nothing could be looked up or deleted. */
  reapFailed: 'ReapFailed',
} as const;

export const failureStateName = (kind: FailureKind) => `Describe${kind}`;
