/**
 * Aggregation of a native run of 1,000,000 records in 10 shards (gzip NDJSON, 128 content events per
 * record, as the baseline scenario produces): records/s and peak RSS. Input generated once under /tmp.
 * Usage: node --import tsx bench/aggregate-native.ts [--records 1000000] [--shards 10] [--tokens 128]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeNativeRunStreaming } from './support/generate.ts';

const { values } = parseArgs({ options: { records: { type: 'string', default: '1000000' }, shards: { type: 'string', default: '10' }, tokens: { type: 'string', default: '128' } } });
const requests = Number(values.records);
const shards = Number(values.shards);
const tokens = Number(values.tokens);
const dir = `/tmp/ib-bench-native-${requests}-${shards}-${tokens}`;

if (!existsSync(join(dir, 'requests', `shard-${String(shards - 1).padStart(4, '0')}.json`))) {
  const t = performance.now();
  await writeNativeRunStreaming(dir, { requests, shards, tokens, rate: 100, seed: 42 });
  console.log(`generated ${requests} records in ${shards} shards in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
const gzBytes = readdirSync(join(dir, 'requests')).filter((f) => f.endsWith('.gz')).reduce((a, f) => a + statSync(join(dir, 'requests', f)).size, 0);
const out = execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'aggregate-measure.ts'), dir], { encoding: 'utf8' });
const m = JSON.parse(out.trim().split('\n').at(-1)!) as { seconds: number; peakRssMB: number; records: number; itlSamples: number };
console.log(`native run: ${m.records} records in ${shards} shards (${tokens} content events each; ${(gzBytes / 1e6).toFixed(0)} MB gzip), ${m.itlSamples} ITL samples`);
console.log(`  aggregate + outputs: ${m.seconds.toFixed(1)} s  →  ${(m.records / m.seconds).toFixed(0)} records/s`);
console.log(`  peak RSS: ${m.peakRssMB.toFixed(0)} MB`);
