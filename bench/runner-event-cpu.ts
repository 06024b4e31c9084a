/**
 * The runner's own CPU per content event, without the network: vLLM-format completion chunks (as
 * the simulator writes them, one event per network chunk, and also eight per chunk as a busy
 * connection delivers them) fed through the runner's per-chunk path — arrival stamp, SSE framing,
 * event meaning, the record's content time. Three classifications side by side: what the runner
 * does (interpretEventRange with the request's TokenChunkTemplate: the bytes around the text
 * compared with those of the request's first token chunk, the one-pass scan otherwise), the one-pass
 * scan of every event, and decoding + JSON.parse of every event (interpretEvent). Prints CPU µs per
 * event and the garbage collector's work.
 *
 *   node --import tsx bench/runner-event-cpu.ts [--events 2000000]
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { interpretEvent, interpretEventRange, TokenChunkTemplate, type StreamEvent } from '../runtime/runner/openai-events.ts';
import { SseParser } from '../runtime/runner/sse.ts';
import { completionChunk, sse, type WireContext } from '../runtime/simulator/wire.ts';
import { systemClock } from '../runtime/timing/clock.ts';

const { values } = parseArgs({ options: { events: { type: 'string', default: '2000000' } } });
const events = Number(values.events);

const ctx: WireContext = { endpoint: 'completions', id: 'cmpl-bench-1', created: 1764320000, model: 'qwen3-8b', promptTokens: 512, continuousUsage: false };
const words = [' the', ' of', ' and', ' water', ' mountain', ' question', ' together', ' 안녕'];
const single = words.map((w, i) => Buffer.from(sse(completionChunk(ctx, w, false, i + 1))));
const batched = [Buffer.concat(single)];

async function run(name: string, chunks: Buffer[], classify: (b: Uint8Array, start: number, end: number, template: TokenChunkTemplate) => StreamEvent): Promise<void> {
  let gcMs = 0;
  let gcCount = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMs += e.duration;
      gcCount += 1;
    }
  });
  const contentTimes: number[] = [];
  // One per request, as the runner's: learned from the request's first token chunk.
  let template = new TokenChunkTemplate();
  let at = 0;
  let content = 0;
  const parser = new SseParser((bytes, start, end) => {
    const ev = classify(bytes, start, end, template);
    if (ev.kind === 'chunk' && ev.content) {
      contentTimes.push(at);
      content += 1;
    }
    // A request's times are dropped when it ends (here every 128 events).
    if (contentTimes.length === 128) {
      contentTimes.length = 0;
      template = new TokenChunkTemplate();
    }
  });
  const perChunk = chunks.length === 1 ? single.length : 1;
  const rounds = Math.ceil(events / perChunk / chunks.length);
  // Warm up the JIT on the same path, then measure.
  for (let r = 0; r < 2000; r++) for (const c of chunks) parser.push(c);
  content = 0;
  obs.observe({ entryTypes: ['gc'] });
  const cpu0 = process.cpuUsage();
  for (let r = 0; r < rounds; r++) {
    for (const c of chunks) {
      at = systemClock();
      parser.push(c);
    }
  }
  const cpu = process.cpuUsage(cpu0);
  // GC entries are delivered after the fact: let them arrive before counting.
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  const us = cpu.user + cpu.system;
  console.log(`| ${name} | ${content.toLocaleString('en-US')} | ${(us / content).toFixed(2)} | ${gcCount} | ${gcMs.toFixed(1)} |`);
}

console.log(`runner CPU per content event — node ${process.version}, ${events.toLocaleString('en-US')} events per row\n`);
console.log('| path | content events | CPU µs / event | GC pauses | GC ms |');
console.log('|---|---:|---:|---:|---:|');
await run('one event per chunk, template after the first, one-pass scan otherwise (the runner)', single, interpretEventRange);
await run('one event per chunk, one-pass scan of every event', single, (b, s, e) => interpretEventRange(b, s, e));
await run('one event per chunk, decode + JSON.parse', single, (b, s, e) => interpretEvent(Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('utf8')));
await run('8 events per chunk, template after the first, one-pass scan otherwise (the runner)', batched, interpretEventRange);
await run('8 events per chunk, decode + JSON.parse', batched, (b, s, e) => interpretEvent(Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('utf8')));
