import { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { InputError, validate } from '../core/errors.ts';
import { historySeriesPath, SUMMARY_FILE } from '../core/run-layout.ts';
import { regressionNotice } from '../core/history/notice.ts';
import { S3HistoryStore } from '../aws/s3-history-store.ts';
import { RunSpec } from '../core/run-spec/index.ts';
import { validityRules } from '../core/scenario/validity-rules.ts';
import { S3RunStore } from '../aws/s3-run-store.ts';
import { aggregateRun, writeOutputs, type RunHints } from '../aggregator/aggregate-run.ts';
import type { ReportAssets } from '../report/assets.ts';

/**
 * Aggregate (Step Functions task). Input `{ runSpec }`; output
 * `{ summaryKey, valid, reasons, succeeded, comparison }`. Compares the run with its series'
 * history (`history/<scenario>/<model>/` in the results bucket) and writes its own entry there.
 * Throws an Error named `NoResults` when the run's prefix holds no results, `InputError` when its
 * files cannot be used. Parse → wire → delegate.
 */
export const AggregateEvent = z.object({ runSpec: RunSpec });

export interface AggregateOutput {
  summaryKey: string;
  valid: boolean;
  reasons: string[];
  succeeded: number;
  /**
   * The comparison in brief, for the execution's output and the regression notice: `notice` is
   * the message the workflow publishes to the alarm topic when `verdict` is `regressed`.
   */
  comparison: { verdict: string; headline: string; regressed: string[]; changes: string[]; notice: string };
}

export interface AggregateDeps {
  s3: S3Client;
  /** uPlot for report.html; default: read from node_modules/uplot (bundle it with the function). */
  assets?: ReportAssets;
}

/** What the RunSpec knows that inference-perf's own files do not. */
export function hintsFromRunSpec(spec: RunSpec): RunHints {
  const v = spec.config.validity;
  return {
    runId: spec.runId,
    scenario: spec.scenario,
    model: spec.model,
    zone: spec.placement.zone,
    runnerVersion: spec.runner.image.includes(':') ? spec.runner.image.slice(spec.runner.image.lastIndexOf(':') + 1) : spec.runner.image,
    pod: spec.observed ? { name: spec.observed.podName, node: spec.observed.nodeName, instanceType: spec.observed.instanceType ?? null, images: spec.observed.images } : null,
    ...(v ? { validity: validityRules(v) } : {}),
  };
}

export async function aggregateForRun(event: unknown, deps: AggregateDeps): Promise<AggregateOutput> {
  const parsed = validate(AggregateEvent, event, { max: 10 });
  if (!parsed.ok) throw new InputError('aggregate event', parsed.problems, 'pass { runSpec } as PrepareRun returned it.');
  const spec = parsed.data.runSpec;
  const store = new S3RunStore(deps.s3, { bucket: spec.s3.bucket, prefix: spec.s3.prefix });
  const historyPrefix = spec.historyPrefix ?? historySeriesPath(spec.scenario, spec.model);
  const result = await aggregateRun(store, {
    hints: hintsFromRunSpec(spec),
    // The RunSpec names the series (what the alarms watch), whatever the runner recorded.
    history: () => new S3HistoryStore(deps.s3, { bucket: spec.s3.bucket, prefix: historyPrefix }),
    compare: { options: spec.compare?.windowSize ? { windowSize: spec.compare.windowSize } : {}, ...(spec.compare?.reference ? { reference: spec.compare.reference } : {}) },
  });
  await writeOutputs(store, result, deps.assets);
  const c = result.summary.comparison!;
  return {
    summaryKey: store.keyOf(SUMMARY_FILE),
    valid: result.summary.validity.valid,
    reasons: result.summary.validity.reasons,
    succeeded: result.summary.requests.succeeded,
    comparison: {
      verdict: c.verdict,
      headline: c.headline,
      regressed: c.metrics.filter((m) => m.verdict === 'regressed').map((m) => m.metric),
      changes: c.changes,
      notice: regressionNotice(result.summary, `s3://${spec.s3.bucket}/${spec.s3.reportKey}`),
    },
  };
}

let wired: AggregateDeps | undefined;

export async function handler(event: unknown): Promise<AggregateOutput> {
  wired ??= { s3: new S3Client({}) };
  return aggregateForRun(event, wired);
}
