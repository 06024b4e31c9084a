import { randomBytes } from 'node:crypto';
import type { LocalStack } from '../core/ports/local-stack.ts';
import { buildRunSpec, RunDefaults, type RunSpec } from '../core/run-spec/index.ts';
import { LOCAL_CLUSTER, RESULTS_BUCKET } from './environment.ts';
import { LOCAL_REGION } from './local-s3.ts';

/**
 * The execution input checked on this machine as PrepareRun will check it — the same parser, the
 * same stack defaults — before anything starts: a bad key or an impossible load is one message in
 * a second, not a failed execution after the local cloud's setup (and its record left behind).
 * Returns the RunSpec PrepareRun would build (its run id when the input names one, its target).
 */
export function preflightExecution(stack: Pick<LocalStack, 'runDefaults'>, config: Record<string, unknown>, input: unknown, nowMs: number): RunSpec {
  const defaults = RunDefaults.parse(
    stack.runDefaults({ clusterName: LOCAL_CLUSTER, ...config }, { region: LOCAL_REGION, bucket: RESULTS_BUCKET, bundle: { bucket: 'local', key: 'runner.mjs', sha256: '0'.repeat(64) } }),
  );
  return buildRunSpec({ input, defaults, now: nowMs, suffix: randomBytes(3).toString('hex') });
}
