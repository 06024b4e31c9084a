import { EKSClient } from '@aws-sdk/client-eks';
import { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { releaseClaim } from '../aws/claims.ts';
import { claimKey } from '../core/claims.ts';
import { describeCluster, type ClusterInfo } from '../aws/eks.ts';
import { runIdSuffix } from '../aws/sfn.ts';
import { InputError, validate } from '../core/errors.ts';
import { buildRunSpec, InvalidInputError, RunSpec, type RunDefaults } from '../core/run-spec/index.ts';
import { defaultsFromEnv } from './prepare-run.ts';

/**
 * ReleaseRun, two callers:
 * - the workflow's Cleanup, `{ runSpec }` → releases the run's claim on its target → `{ released }`;
 * - the reaper, `{ event }` (EventBridge "Step Functions Execution Status Change" of an execution that
 *   timed out, was aborted or failed) → rebuilds that run's RunSpec as PrepareRun did (same input,
 *   start time and execution: same names), releases its claim, and answers the cluster and names
 *   whose objects the reaper deletes → `{ released, claim, runId, names, cluster }`, or
 *   `{ released: false, claim: 'not-held' }` with no cluster when the input was invalid (then nothing
 *   was created). Trouble with the claim never stops the reaper from deleting the run's objects: it is
 *   reported (`claim: 'failed'`, `claimError`) and the reaper fails after the deletes, loudly.
 */

const StatusChange = z.object({
  detail: z.object({
    executionArn: z.string(),
    /** Epoch ms. */
    startDate: z.number(),
    /** The execution input, as JSON text (null when absent). */
    input: z.string().nullable().optional(),
  }),
});

export const ReleaseRunEvent = z.union([z.object({ runSpec: RunSpec }), z.object({ event: StatusChange })]);

export interface ReleaseRunOutput {
  released: boolean;
  /** The reaper's: released (this execution held it), not-held (nobody, or another run), failed (see claimError). */
  claim?: 'released' | 'not-held' | 'failed';
  claimError?: string;
  /** s3://bucket/claims/<target>.json: where the run's claim is (the reaper's cause names it). */
  claimObject?: string;
  runId?: string;
  names?: { job: string; configMap: string };
  cluster?: { endpoint: string; certificateAuthority: string };
}

export interface ReleaseRunDeps {
  defaults: RunDefaults;
  describeCluster(name: string): Promise<ClusterInfo>;
  release(bucket: string, target: string, executionId: string): Promise<boolean>;
}

export async function releaseRun(event: unknown, deps: ReleaseRunDeps): Promise<ReleaseRunOutput> {
  const parsed = validate(ReleaseRunEvent, event, { max: 10 });
  if (!parsed.ok) throw new InputError('release event', parsed.problems, 'pass { runSpec } (Cleanup) or { event } (the reaper).');
  if ('runSpec' in parsed.data) {
    const spec = parsed.data.runSpec;
    return { released: await deps.release(spec.s3.bucket, spec.target.baseUrl, spec.executionId ?? spec.runId) };
  }
  const d = parsed.data.event.detail;
  let spec: RunSpec;
  try {
    spec = buildRunSpec({ input: d.input ? JSON.parse(d.input) : {}, defaults: deps.defaults, now: d.startDate, suffix: runIdSuffix(d.executionArn), executionId: d.executionArn });
  } catch (err) {
    if (err instanceof InvalidInputError || err instanceof SyntaxError) return { released: false, claim: 'not-held' };
    throw err;
  }
  const out: ReleaseRunOutput = { released: false, runId: spec.runId, names: { job: spec.names.job, configMap: spec.names.configMap }, claimObject: `s3://${spec.s3.bucket}/${claimKey(spec.target.baseUrl)}` };
  try {
    out.released = await deps.release(spec.s3.bucket, spec.target.baseUrl, d.executionArn);
    out.claim = out.released ? 'released' : 'not-held';
  } catch (err) {
    out.claim = 'failed';
    out.claimError = `${(err as Error).name}: ${(err as Error).message}`;
  }
  try {
    const info = await deps.describeCluster(spec.cluster.name);
    if (info.endpoint && info.certificateAuthority) out.cluster = { endpoint: info.endpoint, certificateAuthority: info.certificateAuthority };
  } catch {
    // The cluster is gone or unreachable: nothing of the run can be deleted there.
  }
  return out;
}

let wired: ReleaseRunDeps | undefined;

export async function handler(event: unknown): Promise<ReleaseRunOutput> {
  if (!wired) {
    const defaults = defaultsFromEnv(process.env);
    const eks = new EKSClient({ region: defaults.region });
    const s3 = new S3Client({ region: defaults.region });
    wired = { defaults, describeCluster: (name) => describeCluster(eks, name, defaults.region), release: (b, t, id) => releaseClaim(s3, b, t, id) };
  }
  return releaseRun(event, wired);
}
