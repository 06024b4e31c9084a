import { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { publishEmf } from '../aws/emf.ts';
import { getObjectText } from '../aws/s3.ts';
import { InputError, validate } from '../core/errors.ts';
import { RunSpec } from '../core/run-spec/index.ts';
import { defaultNamespace, runDimensions, type MetricDimensions } from '../core/summary/published.ts';
import { Summary } from '../core/summary/schema.ts';

/**
 * Publish (Step Functions task). Input `{ runSpec, aggregate }` (Aggregate's output); output
 * `{ published }` = the number of metrics in the run's EMF line. Reads summary.json, writes one EMF
 * line to stdout (CloudWatch Logs → metrics), namespace from `METRICS_NAMESPACE` (default
 * `InferenceBaseline`), dimensions Model × Scenario **from the RunSpec** (the names the stack's
 * alarms and dashboard watch, whatever the runner recorded), stamped at the run's end.
 */
export const PublishEvent = z.object({
  runSpec: RunSpec,
  aggregate: z.object({ summaryKey: z.string().min(1), valid: z.boolean(), reasons: z.array(z.string()), succeeded: z.number() }),
});

export interface PublishDeps {
  s3: Pick<S3Client, 'send'>;
  namespace: string;
  publish?: (summary: Summary, o: { namespace: string; dimensions: MetricDimensions }) => number;
}

export async function publishRun(event: unknown, deps: PublishDeps): Promise<{ published: number }> {
  const parsed = validate(PublishEvent, event, { max: 10 });
  if (!parsed.ok) throw new InputError('publish event', parsed.problems, "pass { runSpec, aggregate } with Aggregate's output.");
  const { runSpec, aggregate } = parsed.data;
  const where = `s3://${runSpec.s3.bucket}/${aggregate.summaryKey}`;
  const summary = validate(Summary, JSON.parse(await getObjectText(deps.s3 as S3Client, runSpec.s3.bucket, aggregate.summaryKey)), { max: 10 });
  if (!summary.ok) throw new InputError(where, summary.problems, 'aggregate the run again: summary.json is written by the aggregator and read as it wrote it.');
  const publish = deps.publish ?? ((s, o) => publishEmf(s, o));
  return { published: publish(summary.data, { namespace: deps.namespace, dimensions: runDimensions(runSpec) }) };
}

let client: S3Client | undefined;

export async function handler(event: unknown): Promise<{ published: number }> {
  client ??= new S3Client({});
  return publishRun(event, { s3: client, namespace: process.env.METRICS_NAMESPACE || defaultNamespace });
}
