import type http from 'node:http';
import type { Clock } from '../timing/clock.ts';
import type { PreciseScheduler } from '../timing/precise-timer.ts';
import type { GroundTruthLog, Tracked } from './ground-truth.ts';
import { planGeneration, type PlannedChunk, type Rng } from './latency-model.ts';
import type { FailureMode, ResolvedSimulatorOptions } from './options.ts';
import type { ModelCounters } from './prometheus.ts';
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
  /** Tokens this request generates: max_tokens, or fewer when it stops at EOS (the EOS token counted). */
  outputTokens: number;
  /** `stop` when it ends at EOS (the last output token is EOS, with no text). */
  finish: wire.FinishReason;
  failure: FailureMode | null;
  rng: Rng;
  /** A non-status failure strikes once this many tokens are out (Infinity = never). */
  failAt: number;
  state: GenerationState;
  chunks: PlannedChunk[];
  tokenOffsetsMs: number[];
  /** Output words, drawn when generation starts (`''` for an EOS token). */
  words: string[];
  tokensWritten: number;
}

/**
 * The generation engine: the queue under `maxConcurrency`, the token schedule on the shared
 * precise scheduler, the writes (vLLM's frames from wire.ts), injected failures, and the ground
 * truth of every write.
 */
export class Generations {
  private readonly live = new Set<Generation>();
  private readonly queue: Generation[] = [];
  private running = 0;
  private shuttingDown = false;

  constructor(
    private readonly options: ResolvedSimulatorOptions,
    private readonly clock: Clock,
    private readonly scheduler: PreciseScheduler,
    private readonly tokenizer: WordTokenizer,
    private readonly log: GroundTruthLog,
    private readonly counters: Map<string, ModelCounters>,
  ) {}

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
   */
  private start(gen: Generation, fromQueue = false): void {
    if (gen.state !== 'queued') return;
    gen.state = 'generating';
    this.running++;
    const { entry } = gen.tracked;
    entry.startedAt = fromQueue ? this.clock() : entry.receivedAt;
    this.countersOf(gen).promptTokens += gen.wire.promptTokens;
    const plan = planGeneration(this.options, gen.wire.promptTokens, gen.outputTokens, gen.rng);
    gen.chunks = plan.chunks;
    gen.tokenOffsetsMs = plan.tokenOffsetsMs;
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
    this.countersOf(gen).generationTokens += chunk.tokens;

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
    for (const frames of gen.dialect.streamEnd(gen.wire, gen.tokensWritten, gen.finish, gen.includeUsage)) gen.res.write(frames);
    gen.res.end();
    this.countersOf(gen).success++;
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
    send(gen.res, 200, gen.dialect.jsonContentType, gen.dialect.response(gen.wire, outputText(gen.words), gen.outputTokens, gen.finish));
    const { entry } = gen.tracked;
    entry.status = 200;
    entry.contentWrites.push(this.clock());
    entry.completionTokens = gen.outputTokens;
    this.countersOf(gen).generationTokens += gen.outputTokens;
    this.countersOf(gen).success++;
    this.done(gen);
  }

  /** Non-streamed failure: nothing was sent yet, so abort/stall close the connection with no response. */
  private failNonStream(gen: Generation): void {
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

  private countersOf(gen: Generation): ModelCounters {
    return this.counters.get(gen.wire.model)!;
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
