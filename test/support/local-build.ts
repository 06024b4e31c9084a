import type {} from 'vitest';
import { LOCAL_CLUSTER } from '../../runtime/local/environment.ts';
import { LOCAL_POLL_SECONDS } from '../../runtime/local/workflow.ts';

/** What global-setup.ts built for this test run. */
export interface LocalBuild {
  bundleFile: string;
  synthesizedFile: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    localBuild: LocalBuild;
  }
}

/**
 * The local workflow's settings with its defaults, as LocalWorkflow.start passes them to
 * `synthesize`, but for the target: its URL (a simulator's port) reaches PrepareRun through the
 * stack's defaults, never the state machine definitions, so one synthesis serves every target.
 */
export const LOCAL_SYNTH_SETTINGS = { clusterName: LOCAL_CLUSTER, pollIntervalSeconds: LOCAL_POLL_SECONDS, targetBaseUrl: 'http://127.0.0.1:8000' };

export const sameSettings = (a: Record<string, unknown>, b: Record<string, unknown>): boolean => {
  const key = ({ targetBaseUrl: _target, ...rest }: Record<string, unknown>): string => JSON.stringify(Object.entries(rest).sort(([x], [y]) => x.localeCompare(y)));
  return key(a) === key(b);
};

