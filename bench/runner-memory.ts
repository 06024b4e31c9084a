/**
 * The runner's peak memory against the length of a run: the same rate for each duration, the CLI
 * (`inference-baseline run … --no-aggregate`, as the Job runs it) under /usr/bin/time, against the
 * simulator pinned to its own core. Flat is the goal: the schedule is produced as it goes and the
 * prompts are read back from a spool, so a longer run should not need more memory.
 *
 *   node --import tsx bench/runner-memory.ts [--rate 50] [--durations 60,600] [--workers 1]
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { spawnSimulator } from './support/simulator-process.ts';

const { values } = parseArgs({ options: { rate: { type: 'string', default: '50' }, durations: { type: 'string', default: '60,600' }, workers: { type: 'string', default: '1' } } });
const rate = Number(values.rate);
const bin = fileURLToPath(new URL('../bin/inference-baseline.js', import.meta.url));

console.log(`runner peak memory — node ${process.version}, baseline (512 in / 128 out, streaming) at ${rate} req/s; runner on cpu 0, simulator on cpu 1\n`);
console.log('| duration (s) | requests | runner peak RSS (MB) | wall (s) |');
console.log('|---:|---:|---:|---:|');
for (const duration of values.durations.split(',').map(Number)) {
  const tmp = await mkdtemp(join(tmpdir(), 'ib-bench-'));
  const sim = await spawnSimulator([], join(tmp, 'truth.ndjson'), '1');
  try {
    const t0 = Date.now();
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
      execFile(
        'taskset',
        ['-c', '0', '/usr/bin/time', '-f', 'maxrss_kb=%M', process.execPath, bin, 'run', '--target', sim.url, '--rate', String(rate), '--duration', String(duration), '--out', join(tmp, 'run'), '--no-aggregate', '--workers', values.workers],
        { maxBuffer: 64 << 20 },
        (err, stdout, stderr) => (err ? reject(Object.assign(err, { stderr })) : resolve({ stdout, stderr })),
      ),
    );
    const kb = Number(/maxrss_kb=(\d+)/.exec(stderr)?.[1]);
    const sent = /"sent":(\d+)[^\n]*"status":"done"|"status":"done"[^\n]*"sent":(\d+)/.exec(stderr);
    console.log(`| ${duration} | ${sent?.[1] ?? sent?.[2] ?? (/requests\s+(\d+)/.exec(stdout)?.[1] ?? '?')} | ${(kb / 1024).toFixed(1)} | ${((Date.now() - t0) / 1000).toFixed(0)} |`);
  } finally {
    await sim.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}
