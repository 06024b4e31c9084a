import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { defaultNamespace, runMetricValues, runTimestampMs, type MetricDimensions } from '../core/summary/published.ts';
import type { Summary } from '../core/summary/schema.ts';

/**
 * CloudWatch Embedded Metric Format for one run, through Powertools Metrics. `buildEmf` only builds
 * the object (`serializeMetrics()`); `publishEmf` is the one place that writes it (stdout, which
 * Lambda ships to CloudWatch Logs). Dimensions: exactly one set, [Model, Scenario] from the
 * caller (the RunSpec's names, which the alarms watch); Powertools' default `service` dimension is
 * removed. The metrics are core/summary/published.ts's list.
 */

export interface EmfOptions {
  /** Model × Scenario of the run (runDimensions); the alarms and dashboard watch these values. */
  dimensions: MetricDimensions;
  namespace?: string;
  /** Used only when the summary has neither an end nor a start time. */
  now?: () => number;
  /** Where Powertools sends its warnings (e.g. a timestamp older than 14 days). */
  logger?: { warn: (...args: unknown[]) => void; error: (...args: unknown[]) => void; info: (...args: unknown[]) => void; debug: (...args: unknown[]) => void };
}

/** The EMF document as Powertools serializes it. */
export interface EmfDocument {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string; StorageResolution?: number }> }>;
  };
  [key: string]: unknown;
}

function loaded(summary: Summary, o: EmfOptions): { metrics: Metrics; count: number } {
  const metrics = new Metrics({ namespace: o.namespace ?? defaultNamespace, ...(o.logger ? { logger: o.logger } : {}) });
  metrics.clearDefaultDimensions();
  metrics.setThrowOnEmptyMetrics(true);
  metrics.addDimensions(o.dimensions);
  const ts = runTimestampMs(summary) ?? (o.now ?? Date.now)();
  metrics.setTimestamp(ts);
  const list = runMetricValues(summary);
  for (const m of list) metrics.addMetric(m.name, m.unit as (typeof MetricUnit)[keyof typeof MetricUnit], m.value);
  return { metrics, count: list.length };
}

export function buildEmf(summary: Summary, o: EmfOptions): EmfDocument {
  return loaded(summary, o).metrics.serializeMetrics() as unknown as EmfDocument;
}

/** Writes the run's EMF line to stdout (Lambda → CloudWatch); returns how many metrics it carried. */
export function publishEmf(summary: Summary, o: EmfOptions): number {
  const { metrics, count } = loaded(summary, o);
  metrics.publishStoredMetrics();
  return count;
}
