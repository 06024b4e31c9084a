import { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { defaultNamespace } from '../core/aggregate/run-metrics.ts';
import { InputError } from '../core/errors.ts';
import type { Summary } from '../core/metrics/summary.ts';
import { RunSpec } from '../core/run-spec.ts';
import { publishEmf } from '../aws/emf.ts';
import { getObjectText } from '../aws/s3.ts';

/**
 * Publish (Step Functions task). Input `{ runSpec, aggregate }` (Aggregate's output); output
 * `{ published }` = the number of metrics in the run's EMF line. Reads summary.json, writes one EMF
 * line to stdout (CloudWatch Logs → metrics), namespace from `METRICS_NAMESPACE` (default
 * `InferenceBaseline`), dimensions Model × Scenario, stamped at the run's end.
 */
export const PublishEvent = z.object({
  runSpec: RunSpec,
  aggregate: z.object({ summaryKey: z.string().min(1), valid: z.boolean(), reasons: z.array(z.string()), succeeded: z.number() }),
});

export interface PublishDeps {
  s3: S3Client;
  namespace: string;
  publish?: (summary: Summary, namespace: string) => number;
}

export async function publishRun(event: unknown, deps: PublishDeps): Promise<{ published: number }> {
  const parsed = PublishEvent.safeParse(event);
  if (!parsed.success) {
    throw new InputError('publish event', parsed.error.issues.slice(0, 10).map((i) => `${i.path.join('.')}: ${i.message}`), 'pass { runSpec, aggregate } with Aggregate\'s output.');
  }
  const { runSpec, aggregate } = parsed.data;
  const text = await getObjectText(deps.s3, runSpec.s3.bucket, aggregate.summaryKey);
  const summary = JSON.parse(text) as Summary;
  const publish = deps.publish ?? ((s, namespace) => publishEmf(s, { namespace }));
  return { published: publish(summary, deps.namespace) };
}

let client: S3Client | undefined;

export async function handler(event: unknown): Promise<{ published: number }> {
  client ??= new S3Client({});
  return publishRun(event, { s3: client, namespace: process.env.METRICS_NAMESPACE || defaultNamespace });
}
