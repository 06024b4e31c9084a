import type http from 'node:http';
import type { Clock } from '../timing/clock.ts';
import type { PreciseScheduler } from '../timing/precise-timer.ts';
import type { GroundTruthLog, Tracked } from './ground-truth.ts';
import { planGeneration, type PlannedChunk, type Rng } from './latency-model.ts';
import type { FailureMode, ResolvedSimulatorOptions } from './options.ts';
import { PrefixCache } from './prefix-cache.ts';
import { recordFinished, recordFirstToken, type ModelStats } from './prometheus.ts';
import type { Dialect } from './dialects/dialect.ts';
import type { WordTokenizer } from './tokenizer.ts';
import * as wire from './wire.ts';

/**
 * - `queued`: accepted, waiting for a slot under `maxConcurrency`;
 * - `generating`: holds a slot, its writes are scheduled;
 * - `ending`: nothing more will be written, but the slot is held until the abort completes;
 * - `closed`: over for good, slot released, ground truth finalized.
 */
export type GenerationState = 'queued' | 'generating' | 'ending' | 'closed';

/** One accepted generation request, from acceptance until it is closed for good. */
export interface Generation {
  tracked: Tracked;
  res: http.ServerResponse;
  wire: wire.WireContext;
  stream: boolean;
  includeUsage: boolean;
  maxTokens: number;
  /** The server being replayed: its frames and bodies. */
  dialect: Dialect;
  /** The chained hashes of the prompt's full 16-token blocks (prefix-cache.ts); empty when caching is off. */
  blockHashes: readonly string[];
  /** Tokens this request generates: max_tokens, or fewer when it stops at EOS (the EOS token counted). */
  outputTokens: number;
  /** `stop` when it ends at EOS (the last output token is EOS, with no text). */
  finish: wire.FinishReason;
  failure: FailureMode | null;
  rng: Rng;
  /** A non-status failure strikes once this many tokens are out (Infinity = never). */
  failAt: number;
  state: GenerationState;
  /** When its first output token exists (`startedAt` + prefill); Infinity until it starts. */
  firstTokenAt: number;
  /** Its first token is in `/metrics` (TTFT observed, prompt counted): at most once. */
  firstTokenRecorded: boolean;
  chunks: PlannedChunk[];
  tokenOffsetsMs: number[];
  /** Output words, drawn when generation starts (`''` for an EOS token). */
  words: string[];
  tokensWritten: number;
}

/**
 * The generation engine: the queue under `maxConcurrency`, the prefix cache, the token schedule on
 * the shared precise scheduler, the writes (vLLM's frames from wire.ts), injected failures, the
 * engine's `/metrics` state and the ground truth of every write.
 */
export class Generations {
  private readonly live = new Set<Generation>();
  private readonly queue: Generation[] = [];
  private readonly prefixCache: PrefixCache;
  private running = 0;
  private shuttingDown = false;

  constructor(
    private readonly options: ResolvedSimulatorOptions,
    private readonly clock: Clock,
    private readonly scheduler: PreciseScheduler,
    private readonly tokenizer: WordTokenizer,
    private readonly log: GroundTruthLog,
    private readonly stats: Map<string, ModelStats>,
  ) {
    this.prefixCache = new PrefixCache(options.prefixCacheBlocks);
  }

  /** Takes an accepted request: it starts now or waits for a slot. */
  admit(gen: Generation): void {
    this.live.add(gen);
    gen.res.on('close', () => this.onResponseClose(gen));
    const max = this.options.maxConcurrency;
    if (max === null || this.running < max) this.start(gen);
    else this.queue.push(gen);
  }

  /** Requests of a model by state, for `/metrics`. */
  count(model: string, state: 'queued' | 'generating'): number {
    let n = 0;
    for (const g of this.live) if (g.wire.model === model && (state === 'queued' ? g.state === 'queued' : g.state !== 'queued')) n++;
    return n;
  }

  /** Server shutdown: nothing more is written; open entries are finalized. */
  shutdown(): void {
    this.shuttingDown = true;
    this.queue.length = 0;
    for (const gen of this.live) {
      gen.state = 'closed';
      this.log.finalize(gen.tracked);
    }
    this.live.clear();
  }

  /**
   * Begins generating. The latency model counts from the request's arrival (as a user's TTFT does:
   * reading and parsing the body is part of it), or from leaving the queue when it waited.
   * Scheduling looks the prompt up in the prefix cache (vLLM's `get_computed_blocks`): the hit is
   * not prefilled again, and the prompt's blocks are cached from the end of its prefill on.
   */
  private start(gen: Generation, fromQueue = false): void {
    if (gen.state !== 'queued') return;
    gen.state = 'generating';
    this.running++;
    const { entry } = gen.tracked;
    const now = this.clock();
    entry.startedAt = fromQueue ? now : entry.receivedAt;
    const stats = this.statsOf(gen);
    const promptTokens = gen.wire.promptTokens;
    const cached = this.prefixCache.lookup(gen.blockHashes, promptTokens, now);
    if (this.prefixCache.enabled) {
      stats.prefixCacheQueries += promptTokens;
      stats.prefixCacheHits += cached;
    }
    const plan = planGeneration(this.options, promptTokens - cached, gen.outputTokens, gen.rng);
    gen.chunks = plan.chunks;
    gen.tokenOffsetsMs = plan.tokenOffsetsMs;
    const firstToken = plan.tokenOffsetsMs[0]!;
    gen.firstTokenAt = entry.startedAt + firstToken;
    this.prefixCache.insert(gen.blockHashes, gen.firstTokenAt);
    entry.cachedPromptTokens = cached;
    entry.prefillMs = firstToken;
    entry.decodeMs = plan.tokenOffsetsMs.at(-1)! - firstToken;
    const v = this.tokenizer.vocabularySize;
    gen.words = Array.from({ length: gen.outputTokens }, () => this.tokenizer.word(Math.floor(gen.rng() * v)));
    if (gen.finish === 'stop') gen.words[gen.outputTokens - 1] = '';

    if (gen.stream) {
      this.scheduler.at(entry.startedAt + gen.chunks[0]!.offsetMs, () => this.guard(gen, () => this.writeChunk(gen, 0)));
    } else if (gen.failAt !== Infinity) {
      const at = gen.tokenOffsetsMs[Math.max(0, gen.failAt - 1)]!;
      this.scheduler.at(entry.startedAt + at, () => this.guard(gen, () => this.failNonStream(gen)));
    } else {
      this.scheduler.at(entry.startedAt + gen.tokenOffsetsMs[gen.outputTokens - 1]!, () => this.guard(gen, () => this.respondNonStream(gen)));
    }
  }

  /** Scheduler callbacks must never throw (one throwing callback would stop the shared timer loop). */
  private guard(gen: Generation, fn: () => void): void {
    if (gen.state !== 'generating') return;
    if (gen.res.destroyed) return this.onResponseClose(gen);
    try {
      fn();
    } catch {
      gen.res.destroy();
      this.onResponseClose(gen);
    }
  }

  private writeChunk(gen: Generation, index: number): void {
    if (gen.tokensWritten >= gen.failAt) return this.failStream(gen);
    this.recordFirstToken(gen);
    const chunk = gen.chunks[index]!;
    const last = index === gen.chunks.length - 1;
    const text = outputText(gen.words.slice(chunk.firstToken, chunk.firstToken + chunk.tokens));
    const completionSoFar = gen.tokensWritten + chunk.tokens;
    // Node corks the socket until the next tick after a chunked write, so an abort right now would
    // drop this chunk: destroy from the write's callback, once the chunk has been handed to the kernel.
    const abortsAfter = gen.failure === 'abort' && completionSoFar >= gen.failAt;
    const frames = gen.dialect.streamFrames({ c: gen.wire, text, index, last, completionSoFar, finish: gen.finish, includeUsage: gen.includeUsage });
    const { entry } = gen.tracked;
    // A server that does not stream the EOS token writes nothing for it.
    if (frames !== '') {
      gen.res.write(frames, abortsAfter ? () => this.abortStream(gen) : undefined);
      entry.contentWrites.push(this.clock());
    } else if (abortsAfter) {
      queueMicrotask(() => this.abortStream(gen));
    }
    gen.tokensWritten = completionSoFar;
    entry.completionTokens = completionSoFar;
    this.statsOf(gen).generationTokens += chunk.tokens;

    if (abortsAfter) {
      gen.state = 'ending';
      return;
    }
    if (gen.tokensWritten >= gen.failAt) return this.failStream(gen);
    if (last) return this.finishStream(gen);
    const next = gen.chunks[index + 1]!;
    this.scheduler.at(entry.startedAt + next.offsetMs, () => this.guard(gen, () => this.writeChunk(gen, index + 1)));
  }

  private finishStream(gen: Generation): void {
    this.recordFinished(gen);
    for (const frames of gen.dialect.streamEnd(gen.wire, gen.tokensWritten, gen.finish, gen.includeUsage)) gen.res.write(frames);
    gen.res.end();
    this.done(gen);
  }

  private failStream(gen: Generation): void {
    const { res } = gen;
    switch (gen.failure) {
      case 'abort': // only when it strikes before the first token (abortAfterTokens 0)
        gen.state = 'ending';
        this.abortStream(gen);
        return;
      case 'in-band':
        res.write(wire.inBandErrorFrame('Simulated failure: the simulator injected an error during generation.'));
        res.write(wire.DONE_FRAME);
        res.end();
        this.done(gen);
        return;
      default: // stall: go silent, hold the connection, then end it without [DONE]
        this.scheduler.at(this.clock() + this.options.stallMs, () =>
          this.guard(gen, () => {
            res.end();
            this.done(gen);
          }),
        );
    }
  }

  /** Mid-stream abort: drop the connection without the chunked terminator. */
  private abortStream(gen: Generation): void {
    if (this.shuttingDown) return;
    try {
      gen.res.socket?.destroy();
    } finally {
      this.done(gen);
    }
  }

  private respondNonStream(gen: Generation): void {
    this.statsOf(gen).generationTokens += gen.outputTokens;
    this.recordFinished(gen);
    send(gen.res, 200, gen.dialect.jsonContentType, gen.dialect.response(gen.wire, outputText(gen.words), gen.outputTokens, gen.finish));
    const { entry } = gen.tracked;
    entry.status = 200;
    entry.contentWrites.push(this.clock());
    entry.completionTokens = gen.outputTokens;
    this.done(gen);
  }

  /**
   * The request finished normally: counted in `request_success` and observed in the e2e, queue,
   * prefill and decode histograms now, before its last bytes are written — vLLM's output processor
   * records a finished request before `generate()` yields the final output to the HTTP handler, so a
   * scrape made once the client has its last byte already includes it. The intervals are vLLM's
   * (prometheus.ts), from what the simulator applied: queue = scheduled − arrival, prefill and
   * decode as planned, e2e = now − arrival (its TTFT, queue + prefill, was observed at its first
   * token). Failed and disconnected requests are not counted here (vLLM's frontend drops an aborted
   * request's state without recording it; `abort` stays 0).
   */
  private recordFinished(gen: Generation): void {
    this.recordFirstToken(gen);
    const { entry } = gen.tracked;
    const now = this.clock();
    entry.finishedAt = now;
    const queue = entry.startedAt - entry.receivedAt;
    recordFinished(this.statsOf(gen), gen.finish, { e2e: now - entry.receivedAt, queue, prefill: entry.prefillMs ?? 0, decode: entry.decodeMs ?? 0 });
  }

  /**
   * The request's first token exists: TTFT (queue + prefill, as applied) is observed and its prompt
   * counted, once — whatever becomes of the request after (vLLM's `update_from_output`, see
   * prometheus.ts). Not for one whose injected failure strikes before any token (`failAt` 0).
   * Called where the simulator acts at or after that time (the first write, a failure, the finish, a
   * disconnect) and by {@link settleFirstTokens} before a scrape, so no timer is added per request.
   */
  private recordFirstToken(gen: Generation): void {
    if (gen.firstTokenRecorded || gen.failAt === 0) return;
    gen.firstTokenRecorded = true;
    const { entry } = gen.tracked;
    recordFirstToken(this.statsOf(gen), gen.wire.promptTokens, entry.startedAt - entry.receivedAt + (entry.prefillMs ?? 0));
  }

  /** Before a scrape: every request generating whose first token is due by now has it recorded. */
  settleFirstTokens(): void {
    const now = this.clock();
    for (const gen of this.live) if (gen.state === 'generating' && !gen.firstTokenRecorded && gen.firstTokenAt <= now) this.recordFirstToken(gen);
  }

  /** Non-streamed failure: nothing was sent yet, so abort/stall close the connection with no response. */
  private failNonStream(gen: Generation): void {
    // It strikes after failAt tokens: the first one exists unless failAt is 0.
    this.recordFirstToken(gen);
    const { res } = gen;
    switch (gen.failure) {
      case 'in-band':
        // vLLM turns an engine error in a non-streamed request into a 500 error response.
        sendReply(res, gen.dialect.error('Simulated failure: the simulator injected an error during generation.', 500));
        gen.tracked.entry.status = 500;
        this.done(gen);
        return;
      case 'abort':
        gen.state = 'ending';
        res.socket?.destroy();
        this.done(gen);
        return;
      default:
        this.scheduler.at(this.clock() + this.options.stallMs, () =>
          this.guard(gen, () => {
            gen.state = 'ending';
            res.socket?.destroy();
            this.done(gen);
          }),
        );
    }
  }

  /** The response is over from the server's side: stamp doneAt, free the slot, record. */
  private done(gen: Generation): void {
    gen.tracked.entry.doneAt = this.clock();
    this.close(gen);
  }

  /** The response closed; if we had not finished it, the client disconnected: stop generating it. */
  private onResponseClose(gen: Generation): void {
    if (gen.state === 'ending' || gen.state === 'closed') return;
    // vLLM aborts it, but a first token it had produced was recorded then.
    if (gen.state === 'generating' && gen.firstTokenAt <= this.clock()) this.recordFirstToken(gen);
    gen.tracked.entry.doneAt = null;
    const i = this.queue.indexOf(gen);
    if (i >= 0) this.queue.splice(i, 1);
    this.close(gen);
  }

  private close(gen: Generation): void {
    if (gen.state === 'closed') return;
    const heldSlot = gen.state === 'generating' || gen.state === 'ending';
    gen.state = 'closed';
    this.live.delete(gen);
    if (heldSlot) this.running--;
    this.log.finalize(gen.tracked);
    this.pump();
  }

  private statsOf(gen: Generation): ModelStats {
    return this.stats.get(gen.wire.model)!;
  }

  private pump(): void {
    const max = this.options.maxConcurrency;
    while (this.queue.length > 0 && (max === null || this.running < max)) this.start(this.queue.shift()!, true);
  }
}

/** Output words as text: each after a space; an EOS token adds nothing. */
function outputText(words: readonly string[]): string {
  return words.map((w) => (w === '' ? '' : ` ${w}`)).join('');
}

/** A dialect's whole answer (unless the client is gone); no content-type when it has none. */
export function sendReply(res: http.ServerResponse, reply: { status: number; contentType?: string; body: string }): void {
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(reply.status, { ...(reply.contentType === undefined ? {} : { 'content-type': reply.contentType }), 'content-length': Buffer.byteLength(reply.body) });
  res.end(reply.body);
}

/** A whole JSON response (unless the client is gone). */
export function sendJson(res: http.ServerResponse, status: number, body: string): void {
  send(res, status, 'application/json', body);
}

export function send(res: http.ServerResponse, status: number, contentType: string, body: string): void {
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
