/**
 * Child process of the aggregate benchmarks: aggregates one run directory (the same code path as the
 * Lambda and `inference-baseline aggregate`, outputs included) and prints one JSON line with wall
 * time and peak RSS, so the parent's input generation does not pollute the memory figure.
 * Usage: node --import tsx bench/aggregate-measure.ts <dir>
 */
import { aggregateRun, writeOutputs } from '../runtime/aggregator/aggregate-run.ts';
import { FsRunStore } from '../runtime/aggregator/fs-run-store.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: aggregate-measure.ts <run dir>');
const store = new FsRunStore(dir);
const t0 = performance.now();
const result = await aggregateRun(store);
const tAggregated = performance.now();
await writeOutputs(store, result);
const t1 = performance.now();
const s = result.summary;
process.stdout.write(
  `${JSON.stringify({
    seconds: (t1 - t0) / 1000,
    aggregateSeconds: (tAggregated - t0) / 1000,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    records: s.input.records,
    badRecords: s.input.badRecords,
    itlSamples: s.latency.itl.count,
    valid: s.validity.valid,
  })}\n`,
);
