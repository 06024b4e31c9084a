import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { VERSION } from '../core/version.ts';
import type { RequestRecord } from '../core/records/record.ts';
import type { RunManifest, ShardManifest } from '../core/records/run-manifest.ts';
import { RunAccumulator } from '../core/metrics/accumulator.ts';
import { InputTally } from '../core/records/input-report.ts';
import { CONFIG_FILE, REQUESTS_DIR, requestsPath, RUN_MANIFEST_FILE, shardManifestName } from '../core/run-layout.ts';
import { finish } from '../core/summary/finalize.ts';
import { loopThread, yieldBackgroundThreads } from '../timing/background-threads.ts';
import { openStealWindow } from '../timing/cpu-steal.ts';
import { sleepUntil } from '../timing/precise-timer.ts';
import { runSeed, scheduleSize } from '../core/scenario/schedule.ts';
import { pace, scheduleSlots, shardSeqs, shardSize, shardSlots, type Slot } from './pacer.ts';
import { PromptSpool } from './prompt-spool.ts';
import { serverConnections } from './server-dispatcher.ts';
import { checkWarmUp, inspectTarget, warmUp } from './preflight.ts';
import { ServerMetricsWindow } from './server-metrics.ts';
import { DEFAULT_HUB } from './tokenizer-source.ts';
import { calibratePrompts, type PromptPlan } from './prompts.ts';
import { Cancellation, prepareRequest, sendRequest, type PreparedRequest, type RequestTemplate } from './request.ts';
import { ShardWriter } from './shard-writer.ts';
import { Interrupted, untilInterrupted } from './interrupted.ts';
import { createRunDir } from './run-dir.ts';
import { youngCollector } from './young-collector.ts';
import type { RunOptions, RunResult, RunStatus } from './types.ts';

const noop = (): void => undefined;

/** Without the entry point's word (RunOptions.hub), nothing is fetched from the internet. */
const OFFLINE = { ...DEFAULT_HUB, offline: true };

/** The native runner's version as recorded in run.json: the project's. */
export const RUNNER_VERSION = VERSION;

/**
 * One shard of a benchmark run on this event loop, start to finish: inspect the target (nothing is
 * created if that fails), plan the schedule and prompts, warm connections, send open-loop, record
 * every request, and write the shard's files. The summary is computed from the same records that
 * were written. A runner with several workers runs one of these per worker thread (start.ts).
 */
export async function runBenchmark(o: RunOptions): Promise<RunResult> {
  const sc = o.scenario;
  const baseUrl = sc.server.baseUrl;
  const server = serverConnections(baseUrl, {
    pool: {
      connections: sc.load.maxConnections,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      keepAliveMaxTimeout: 600_000,
      connect: { timeout: 10_000 },
    },
  });
  const spool = await PromptSpool.create();
  try {
    return await runWithPool(o, server.dispatcher, spool);
  } finally {
    // Interrupted: a preparation request may still be open (a long warm-up); do not wait for it.
    await (o.interrupt.aborted ? server.destroy() : server.close()).catch(() => undefined);
    await spool.remove();
  }
}

async function runWithPool(o: RunOptions, pool: Dispatcher, spool: PromptSpool): Promise<RunResult> {
  const sc = o.scenario;
  const base: Omit<RequestTemplate, 'model'> = {
    api: sc.api.type,
    streaming: sc.api.streaming,
    ignoreEos: sc.server.ignoreEos,
    headers: sc.api.headers,
    apiKey: sc.server.apiKey,
    timeoutMs: sc.load.requestTimeoutMs,
  };
  // Every preparation step gives way to Ctrl-C at once (untilInterrupted): nothing is created yet.
  const step = <T>(p: Promise<T>): Promise<T> => untilInterrupted(o.interrupt, p);
  // The generation requests sent before the load, as the server's metrics will count them.
  const preflightDoneAt: number[] = [];
  const target = await step(
    inspectTarget(pool, sc.server.baseUrl, base, { model: sc.server.model, type: sc.server.type, ignoreEos: sc.server.ignoreEos, tokenizer: sc.tokenizer, hub: o.hub ?? OFFLINE, signal: o.interrupt, onServed: () => preflightDoneAt.push(o.clock()) }),
  );
  const template: RequestTemplate = { ...base, model: target.model };
  const seed = runSeed(sc.load.seed, o.runId);
  const total = scheduleSize(sc.load.stages);
  const scheduled = shardSize(total, o.shard.index, o.shard.count);
  // The schedule is produced as the loop reaches each request; a function so it can start over.
  const mySlots = (): Iterable<Slot> => shardSlots(scheduleSlots(sc.load.stages, sc.load.arrival, sc.load.intervalS, seed.value), o.shard.index, o.shard.count);
  o.onNote?.(`target ${sc.server.baseUrl} model ${target.model}`);
  for (const note of target.notes) o.onNote?.(note);
  // This shard's prompts only, plus the warm-up's own first (a position past the schedule), so no
  // measured request finds its prompt already in the server's prefix cache. They go to a spool on
  // disk, not memory: memory does not grow with the run's length.
  const warmSeq = total + o.shard.index;
  const seqs: Iterable<number> = { *[Symbol.iterator]() { yield warmSeq; yield* shardSeqs(total, o.shard.index, o.shard.count); } };
  let warm: PromptPlan | undefined;
  await step(
    calibratePrompts(seqs, sc.input, sc.output, seed.value, target.counter.count, (plan) => (warm ? spool.write(plan) : void (warm = plan)), {
      onProgress: (n) => o.onNote?.(`calibrated ${n} prompts`),
      signal: o.interrupt,
      maxModelLen: target.maxModelLen,
      vocabulary: { words: target.counter.words, first: target.counter.first },
    }),
  );
  await spool.close();
  const warmed = await step(warmUp(pool, template, warm!.prompt, warm!.promptTokens, warm!.maxTokens, o.clock));
  preflightDoneAt.push(warmed.doneAt ?? o.clock());
  // The warm-up's usage checks the count and ignore_eos before anything is created.
  checkWarmUp(warmed, target, template);
  const e2eEstimate = (warmed.doneAt ?? 0) - (warmed.sentAt ?? 0);

  if (o.coordination) await step(o.coordination.prepared());
  else await createRunDir(o.outDir);
  const manifest: RunManifest = {
    v: 1,
    identity: runIdentity(o, target.model),
    request: { arrival: sc.load.arrival, stages: sc.load.stages, intervalS: sc.load.intervalS, ignoreEos: sc.server.ignoreEos, validity: sc.validity, seed },
    scheduled: total,
    shards: o.shard.count,
    server: target.server,
  };
  // The run's own files come from shard 0 only: one writer per name (core/run-layout.ts).
  if (o.shard.index === 0) {
    await writeFile(join(o.outDir, CONFIG_FILE), o.configYaml, { flag: 'wx' });
    o.onFileClosed?.(CONFIG_FILE);
    await writeFile(join(o.outDir, RUN_MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, { flag: 'wx' });
    o.onFileClosed?.(RUN_MANIFEST_FILE);
  }

  await o.beforeLoad?.();

  const maxRate = Math.max(...sc.load.stages.map((s) => s.rate));
  await warmConnections(pool, Math.min(sc.load.maxConnections, Math.ceil((maxRate / o.shard.count) * (e2eEstimate / 1000) * 1.5) + 2), template);
  // A short lead so the first request is not late because of the setup just done; several workers
  // share one start, so their slices interleave as the schedule says.
  // A lone runner of shard 0 reads the server's metrics around its load (with workers, their coordinator does).
  const metrics = o.coordination ? undefined : ServerMetricsWindow.forShard(o, o.clock);
  await metrics?.open();
  // With workers, their coordinator does this once all of them are ready.
  if (!o.coordination && o.yieldThreads !== false) yieldBackgroundThreads(loopThread());
  const start = o.coordination ? await o.coordination.ready(manifest) : o.clock() + 50;

  // A record that cannot be written (a full disk) stops the run: what it sent next would be lost.
  const halt = new AbortController();
  const writer = new ShardWriter(join(o.outDir, REQUESTS_DIR), o.shard.index, { clock: o.clock, onPartClosed: o.onFileClosed, onError: () => halt.abort() });
  const acc = new RunAccumulator(sc.server.ignoreEos);
  const startedAt = new Date().toISOString();
  const steal = openStealWindow(o.cpuTicks);
  let loaded: { sent: number; interrupted: boolean };
  try {
    loaded = await loadLoop({ ...o, interrupt: AbortSignal.any([o.interrupt, halt.signal]) }, pool, template, { start, slots: mySlots(), count: scheduled, lastMs: lastOffsetMs(mySlots()) }, spool.read(), (r) => {
      writer.write(r);
      acc.add(r);
    });
    await writer.close();
    // After the last response: an interrupted run's window is not the whole run, so no `after` scrape.
    if (!loaded.interrupted) await metrics?.close();
  } finally {
    await metrics?.abandon();
  }
  const { sent, interrupted } = loaded;

  const shardManifest: ShardManifest = {
    v: 1,
    runId: o.runId,
    shard: o.shard.index,
    shards: o.shard.count,
    scheduled,
    sent,
    records: writer.records,
    parts: writer.parts,
    partial: interrupted,
    startedAt,
    endedAt: new Date().toISOString(),
    cpuSteal: steal.share(),
    preflightDoneAt,
  };
  const manifestPath = requestsPath(shardManifestName(o.shard.index));
  await writeFile(join(o.outDir, manifestPath), `${JSON.stringify(shardManifest, null, 2)}\n`, { flag: 'wx' });
  o.onFileClosed?.(manifestPath);
  const tally = new InputTally('native');
  tally.files = writer.parts.length;
  tally.records = writer.records;
  const summary = finish(acc.measure(manifest.identity, manifest.request, { scheduled, partial: interrupted, cpuSteal: shardManifest.cpuSteal }), manifest.request, tally.report());
  return { summary, dir: o.outDir, shards: [shardManifest], partial: interrupted, accumulator: acc };
}

function lastOffsetMs(slots: Iterable<Slot>): number {
  let last = 0;
  for (const s of slots) last = s.offsetMs;
  return last;
}

function runIdentity(o: RunOptions, model: string): RunManifest['identity'] {
  return {
    runId: o.runId,
    scenario: o.scenarioName,
    model,
    target: o.scenario.server.baseUrl,
    zone: o.zone,
    runner: { kind: 'native', version: RUNNER_VERSION },
    api: o.scenario.api.type,
    streaming: o.scenario.api.streaming,
  };
}

/** Opens `n` connections before the first scheduled request so TCP setup never lands in TTFT. */
async function warmConnections(pool: Dispatcher, n: number, t: RequestTemplate): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, async () => {
      const res = await pool.request({ path: '/v1/models', method: 'GET', headers: t.apiKey ? { authorization: `Bearer ${t.apiKey}` } : {} });
      await res.body.dump();
    }),
  );
}

/**
 * The open loop. Requests are sent when the schedule says, whether or not earlier ones finished;
 * the optional in-flight cap delays a send (and that delay is recorded as schedule delay, never
 * hidden). The pacer decides; this loop only waits, sends and counts.
 */
async function loadLoop(
  o: RunOptions,
  pool: Dispatcher,
  t: RequestTemplate,
  schedule: { start: number; slots: Iterable<Slot>; count: number; lastMs: number },
  plans: { next(): Promise<PromptPlan | undefined> },
  onRecord: (r: RequestRecord) => void,
): Promise<{ sent: number; interrupted: boolean }> {
  const clock = o.clock;
  const cancel = new Cancellation();
  const inFlight = new Set<Promise<void>>();
  const cap = o.scenario.load.maxInFlight ?? Number.POSITIVE_INFINITY;
  let sent = 0;
  let succeeded = 0;
  let failed = 0;
  let phase: RunStatus['phase'] = 'running';
  const totalS = schedule.lastMs / 1000 + 1;
  const cursor = schedule.slots[Symbol.iterator]();
  let slot = cursor.next().value as Slot | undefined;
  const start = schedule.start;
  const status = (): RunStatus => ({ phase, elapsedS: Math.max(0, (clock() - start) / 1000), totalS, scheduled: schedule.count, sent, inFlight: inFlight.size, succeeded, failed });
  const ticker = setInterval(() => o.onStatus?.(status()), 1000);
  let interrupted = o.interrupt.aborted;
  const stop = new Promise<void>((resolve) => o.interrupt.addEventListener('abort', () => resolve(), { once: true }));
  // `Promise.race([x, stop])` would leave a reaction on `stop` at every wait, held until the run
  // ends (two per request: megabytes over a long run at high rates); untilInterrupted lets go of
  // its listener. Here an interruption ends the wait, it is not an error: the loop reads the signal.
  const waitOrInterrupt = (x: Promise<unknown>): Promise<void> =>
    untilInterrupted(o.interrupt, x).then(noop, (err: unknown) => {
      if (!(err instanceof Interrupted)) throw err;
    });
  const young = youngCollector();
  try {
    // The next request's bytes are built while waiting for its time (prepareRequest), not after it.
    let next: PreparedRequest | null = null;
    while (!interrupted) {
      const d = pace(slot, clock() - start);
      if (d.kind === 'stop' || !slot) break;
      // The spool holds this shard's plans in its slots' order: the next plan is this slot's.
      if (next?.p.seq !== slot.seq) {
        const plan = await plans.next();
        if (!plan) throw new Error(`the prompt spool ended before request ${slot.seq}`);
        next = prepareRequest(t, { runId: o.runId, shard: o.shard.index, seq: slot.seq, stage: slot.stage, scheduledAt: start + slot.offsetMs, prompt: plan.prompt, promptTokens: plan.promptTokens, maxTokens: plan.maxTokens });
      }
      if (d.kind === 'wait') {
        await waitOrInterrupt(sleepUntil(start + slot.offsetMs, clock));
        interrupted = o.interrupt.aborted;
        continue;
      }
      while (inFlight.size >= cap && !interrupted) {
        await waitOrInterrupt(Promise.race(inFlight));
        interrupted = o.interrupt.aborted;
      }
      if (interrupted) break;
      const p = sendRequest(pool, t, next, clock, cancel, young?.afterWrite).then((r) => {
        if (r.error) failed += 1;
        else succeeded += 1;
        onRecord(r);
        inFlight.delete(p);
      });
      inFlight.add(p);
      sent += 1;
      slot = cursor.next().value as Slot | undefined;
    }
    phase = 'draining';
    await Promise.race([Promise.all(inFlight), stop]);
    if (inFlight.size > 0) {
      // Interrupted (before or after the last send): in-flight requests get a bounded grace period.
      o.onNote?.(`interrupted: waiting up to ${Math.round(o.graceMs / 1000)} s for ${inFlight.size} requests in flight`);
      const grace = new Promise<void>((resolve) => setTimeout(resolve, o.graceMs).unref());
      await Promise.race([Promise.all(inFlight), grace]);
      cancel.cancel();
      await Promise.all(inFlight);
    }
    phase = 'done';
    o.onStatus?.(status());
    return { sent, interrupted };
  } finally {
    clearInterval(ticker);
  }
}
