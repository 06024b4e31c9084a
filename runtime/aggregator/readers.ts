import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import type { RunResults } from '../core/summary/finalize.ts';
import { parseNativeLine } from '../core/records/checks.ts';
import { normalizeInferencePerfRecord, type InferencePerfContext } from '../core/records/inference-perf.ts';
import { jsonArrayElements } from './json-array-elements.ts';

/**
 * Byte-stream adapters: gzip NDJSON shards and inference-perf's per-request JSON array, read with
 * backpressure and bounded memory (one line / one array element at a time), normalized and checked
 * by the pure core. A damaged file is counted (`badFile`) with the records before the damage kept;
 * a bad record is counted (`badRecord`); neither throws.
 */

/** A native shard part: `requests/shard-<i>-<p>.ndjson.gz`, one v1 record per line. */
export async function readNativeShard(stream: NodeJS.ReadableStream, file: string, runId: string, agg: RunResults): Promise<void> {
  agg.tally.fileRead();
  const gunzip = createGunzip();
  stream.on('error', (e: Error) => gunzip.destroy(e));
  stream.pipe(gunzip);
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let lineNo = 0;
  const onLine = (line: string): void => {
    lineNo += 1;
    if (line.length === 0 || line === '\r') return;
    const res = parseNativeLine(line);
    if (!res.ok) agg.tally.badRecord(file, `line ${lineNo}`, res.problem);
    else if (res.record.runId !== runId) {
      agg.tally.badRecord(file, `line ${lineNo}`, `belongs to run ${res.record.runId}, not ${runId}`);
      agg.foreignRuns.add(res.record.runId);
    }
    else agg.add(res.record);
  };
  try {
    for await (const chunk of gunzip) {
      const text = rest + decoder.write(chunk as Buffer);
      let start = 0;
      let nl = text.indexOf('\n', start);
      while (nl !== -1) {
        onLine(text.slice(start, nl));
        start = nl + 1;
        nl = text.indexOf('\n', start);
      }
      rest = text.slice(start);
    }
    rest += decoder.end();
    if (rest.length > 0) onLine(rest);
  } catch (e) {
    const partial = rest.length > 0 ? ` (an incomplete line ${lineNo + 1} was discarded)` : '';
    agg.tally.badFile(file, `unreadable after line ${lineNo}: ${describe(e)}${partial}`);
  }
}

/**
 * inference-perf's `per_request_lifecycle_metrics.json` (one JSON array, possibly > 1 GB), read
 * element by element (json-array-elements.ts: framed in JavaScript, parsed natively): each element
 * is normalized and released.
 */
export async function readInferencePerfRecords(stream: NodeJS.ReadableStream, file: string, ctx: InferencePerfContext, agg: RunResults): Promise<void> {
  agg.tally.fileRead();
  let n = 0;
  try {
    for await (const value of jsonArrayElements(stream as AsyncIterable<Buffer>)) {
      const res = normalizeInferencePerfRecord(value, n, ctx);
      if (res.ok) agg.add(res.record);
      else agg.tally.badRecord(file, `element ${n}`, res.problem);
      n += 1;
    }
  } catch (e) {
    agg.tally.badFile(file, `not valid JSON after ${n} complete records: ${describe(e)}`);
  }
}

function describe(e: unknown): string {
  if (e instanceof Error) return (e as NodeJS.ErrnoException).code ? `${e.message} (${(e as NodeJS.ErrnoException).code})` : e.message;
  return String(e);
}
