import type { Dispatcher } from 'undici';
import type { ErrorType, RequestRecord } from '../core/records/record.ts';
import type { Clock } from '../timing/clock.ts';
import { errorMessage, finishReasonOf, interpretEventRange, TokenChunkTemplate, usageOf, type Usage } from './openai-events.ts';
import { SseParser } from './sse.ts';

/** Everything that stays the same for every request of a run. */
export interface RequestTemplate {
  api: 'completion' | 'chat';
  streaming: boolean;
  model: string;
  ignoreEos: boolean;
  headers: Record<string, string>;
  apiKey: string | undefined;
  /** Longest silence on a connection (headers or body) before the request fails as `timeout`. */
  timeoutMs: number;
}

/** One request to send: its place in the schedule and its calibrated prompt. */
export interface PlannedRequest {
  runId: string;
  shard: number;
  seq: number;
  stage: number;
  scheduledAt: number;
  prompt: string;
  promptTokens: number;
  maxTokens: number;
}

export function requestBody(t: RequestTemplate, prompt: string, maxTokens: number): Record<string, unknown> {
  const common: Record<string, unknown> = { model: t.model, max_tokens: maxTokens, stream: t.streaming };
  if (t.streaming) common.stream_options = { include_usage: true };
  if (t.ignoreEos) common.ignore_eos = true;
  return t.api === 'chat' ? { ...common, messages: [{ role: 'user', content: prompt }] } : { ...common, prompt };
}

export function requestPath(api: 'completion' | 'chat'): string {
  return api === 'chat' ? '/v1/chat/completions' : '/v1/completions';
}

export function requestHeaders(t: RequestTemplate, requestId?: string): Record<string, string> {
  const h: Record<string, string> = { 'content-type': 'application/json', ...t.headers };
  if (t.apiKey) h.authorization = `Bearer ${t.apiKey}`;
  if (requestId) h['x-request-id'] = requestId;
  return h;
}

/**
 * The run's way to cancel the requests in flight: a set of them rather than an AbortSignal each
 * listens on. Adding and removing a listener on a signal (Node's EventTarget) took ~28 µs of the
 * load loop per request at 100 req/s (`perf`, 0.2 µs per token); a set's add and delete, a fraction.
 */
export class Cancellation {
  /** Each request's own abort, from its send until its record. */
  readonly live = new Set<() => void>();
  cancelled = false;

  /** Cancels every request in flight, and any sent after this (as it starts). */
  cancel(): void {
    this.cancelled = true;
    for (const abort of this.live) abort();
  }
}

/** A request's bytes, built ahead of its send time so that at the deadline only the write is left. */
export interface PreparedRequest {
  p: PlannedRequest;
  body: Buffer;
  headers: Record<string, string>;
}

export function prepareRequest(t: RequestTemplate, p: PlannedRequest): PreparedRequest {
  return { p, body: Buffer.from(JSON.stringify(requestBody(t, p.prompt, p.maxTokens))), headers: requestHeaders(t, `${p.runId}-${p.seq}`) };
}

/**
 * Sends one request and measures it, on undici's dispatch handler rather than a body stream so
 * nothing sits between the socket and the timestamps:
 * - sent = `onRequestStart`, which undici calls in the same synchronous block that writes the
 *   request to the socket. What comes before it is schedule delay: any wait for a free connection,
 *   and on a reused keep-alive connection one turn of the event loop, since undici (≥ 7.2x, for
 *   GHSA-35p6-xmwp-9g52) checks an idle socket for unsolicited bytes before writing to it;
 * - each network chunk is stamped once on arrival, before it is parsed, and that stamp goes to
 *   every content-bearing event the chunk completes.
 * Never throws: every outcome becomes a record.
 */
export function sendRequest(
  dispatcher: Dispatcher,
  t: RequestTemplate,
  prepared: PreparedRequest,
  clock: Clock,
  cancel?: Cancellation,
  /** Called once the request's bytes are written (a microtask after the write's synchronous block). */
  onWritten?: () => void,
): Promise<RequestRecord> {
  const { p, body, headers } = prepared;
  const m = new Measurement(p, t.streaming);
  return new Promise((resolve) => {
    let settled = false;
    const settle = (r: RequestRecord): void => {
      if (settled) return;
      settled = true;
      cancel?.live.delete(onAbort);
      resolve(r);
    };
    let controller: Dispatcher.DispatchController | undefined;
    const onAbort = (): void => controller?.abort(Object.assign(new Error('the run was interrupted'), { name: 'AbortError' }));
    cancel?.live.add(onAbort);

    let mode: 'stream' | 'json' | 'http_error' | 'protocol' = 'json';
    let contentType = '';
    let failure: { type: ErrorType; message: string } | null = null;
    const template = new TokenChunkTemplate();
    const parser = new SseParser((bytes, start, end) => {
      if (m.done || failure) return;
      const ev = interpretEventRange(bytes, start, end, template);
      if (ev.kind === 'done') m.done = true;
      else if (ev.kind === 'error') failure = { type: 'in_band', message: ev.message };
      else if (ev.kind === 'invalid') failure = { type: 'protocol', message: ev.message };
      else {
        if (ev.content) m.addContent(m.chunkAt);
        if (ev.usage) m.usage = ev.usage;
        if (ev.finish) m.finish = ev.finish;
      }
    });
    const text: Buffer[] = [];
    let textBytes = 0;

    const dispatchedAt = clock();
    dispatcher.dispatch(
      { path: requestPath(t.api), method: 'POST', headers, body, headersTimeout: t.timeoutMs, bodyTimeout: t.timeoutMs },
      {
        onRequestStart(c) {
          controller = c;
          m.sentAt = clock();
          if (cancel?.cancelled) onAbort();
          if (onWritten) queueMicrotask(onWritten);
        },
        onResponseStart(_c, statusCode, resHeaders) {
          m.status = statusCode;
          contentType = String(resHeaders['content-type'] ?? '');
          if (statusCode < 200 || statusCode >= 300) mode = 'http_error';
          else if (t.streaming) mode = contentType.includes('text/event-stream') ? 'stream' : 'protocol';
          else mode = 'json';
        },
        onResponseData(_c, chunk) {
          const at = clock();
          m.chunkAt = at;
          m.lastByteAt = at;
          if (mode === 'stream') {
            // The common chunk, one whole token event alone (`data: ` + a chunk the template knows +
            // a blank line), is what the parser would hand on whole: counted without framing it.
            if (!m.done && failure === null && parser.loneDataEvent(chunk) && template.matches(chunk, 6, chunk.length - 2)) m.addContent(at);
            else parser.push(chunk);
          } else if (textBytes < 4 << 20) {
            // Non-streamed bodies and error bodies are read whole (bounded).
            text.push(chunk);
            textBytes += chunk.length;
          }
        },
        onResponseEnd() {
          const at = m.lastByteAt ?? clock();
          const bodyText = (): string => Buffer.concat(text).toString('utf8');
          if (mode === 'http_error') return settle(m.fail(at, 'http_status', `HTTP ${m.status}: ${httpErrorText(bodyText())}`));
          if (mode === 'protocol') return settle(m.fail(at, 'protocol', `expected an event stream, got content-type "${contentType}": ${bodyText().slice(0, 200)}`));
          if (mode === 'json') return settle(finishJson(m, bodyText(), at));
          parser.end();
          if (failure) settle(m.fail(at, failure.type, failure.message));
          else if (!m.done) settle(m.fail(at, 'aborted', 'the stream ended before [DONE]'));
          else settle(m.record(at, null));
        },
        onResponseError(_c, err) {
          if (m.sentAt === null) m.sentAt = dispatchedAt;
          settle(m.fail(clock(), failure?.type ?? classify(err, m.status !== null), failure?.message ?? describe(err)));
        },
      },
    );
  });
}

/** What a record needs of its plan: the plan less its prompt, which need not live as long as the request. */
type RecordedPlan = Omit<PlannedRequest, 'prompt'>;

/** Stamps presized per request at most (a 4,096-token request takes 32 kB until it ends; a longer one doubles). */
const MAX_PRESIZED_TIMES = 4096;

class Measurement {
  /**
   * Not the plan itself: its prompt (kilobytes of text, already in the request's body bytes) would
   * be held for the request's whole life — long enough to be promoted to the old generation at
   * every request, feeding the major collections that pause the loop at high rates.
   */
  readonly p: RecordedPlan;
  sentAt: number | null = null;
  lastByteAt: number | null = null;
  /**
   * The arrival stamp of the chunk being parsed: every content event it completes gets it. A field
   * that only ever holds a number, so V8 updates it in place rather than boxing a new one per chunk.
   */
  chunkAt = 0;
  status: number | null = null;
  /**
   * Content stamps, in a typed array sized for the request's max_tokens (doubled if a server sends
   * more): its bytes are outside V8's heap, so the young collections made every ~150 ms at 100
   * streams (young-collector.ts) never copy them or promote them, and the request's stamps do not
   * pass through the intermediate arrays a growing `number[]` leaves behind (~2 kB of each request's
   * promoted garbage at 128 tokens). The record gets a plain array once, when the request ends.
   */
  private times: Float64Array;
  private contentCount = 0;
  usage: Usage | null = null;
  finish: string | null = null;
  done = false;

  constructor(
    p: PlannedRequest,
    readonly streaming: boolean,
  ) {
    this.p = { runId: p.runId, shard: p.shard, seq: p.seq, stage: p.stage, scheduledAt: p.scheduledAt, promptTokens: p.promptTokens, maxTokens: p.maxTokens };
    this.times = new Float64Array(Math.min(Math.max(p.maxTokens, 16), MAX_PRESIZED_TIMES));
  }

  addContent(at: number): void {
    if (this.contentCount === this.times.length) {
      // Typed arrays drop writes past their end silently: growth must always make room.
      const more = new Float64Array(Math.max(16, this.times.length * 2));
      more.set(this.times);
      this.times = more;
    }
    this.times[this.contentCount++] = at;
  }

  record(doneAt: number | null, error: RequestRecord['error']): RequestRecord {
    const p = this.p;
    const contentTimes = Array.from(this.times.subarray(0, this.contentCount));
    return {
      v: 1,
      runId: p.runId,
      shard: p.shard,
      seq: p.seq,
      stage: p.stage,
      scheduledAt: p.scheduledAt,
      sentAt: this.sentAt,
      firstTokenAt: contentTimes[0] ?? null,
      doneAt,
      contentTimes,
      inputTokens: { requested: p.promptTokens, client: p.promptTokens, server: this.usage?.promptTokens ?? null },
      outputTokens: {
        requested: p.maxTokens,
        client: this.streaming ? contentTimes.length : null,
        server: this.usage?.completionTokens ?? null,
      },
      status: this.status,
      error,
      finishReason: this.finish,
    };
  }

  fail(at: number, type: ErrorType, message: string): RequestRecord {
    return this.record(at, { type, message });
  }
}

function finishJson(m: Measurement, text: string, at: number): RequestRecord {
  try {
    const obj = JSON.parse(text) as Record<string, unknown>;
    if (obj.error) return m.fail(at, 'in_band', errorMessage(obj.error));
    m.usage = usageOf(obj.usage);
    if (Array.isArray(obj.choices)) m.finish = finishReasonOf(obj.choices[0]);
  } catch {
    return m.fail(at, 'protocol', `response is not JSON: ${text.slice(0, 200)}`);
  }
  return m.record(at, null);
}

function httpErrorText(text: string): string {
  try {
    const obj = JSON.parse(text) as Record<string, unknown>;
    return errorMessage(obj.error ?? obj);
  } catch {
    return text.slice(0, 200) || '(empty body)';
  }
}

/** Maps undici/Node errors to the record's error types. */
export function classify(err: unknown, afterHeaders: boolean): ErrorType {
  const e = err as { name?: string; code?: string; cause?: { code?: string } };
  const code = e?.code ?? e?.cause?.code ?? '';
  if (e?.name === 'AbortError' || code === 'UND_ERR_ABORTED' || code === 'ABORT_ERR') return 'cancelled';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
  if (afterHeaders) return 'aborted';
  return 'connect';
}

function describe(err: unknown): string {
  const e = err as { message?: string; code?: string; cause?: { message?: string; code?: string } };
  const code = e?.code ?? e?.cause?.code;
  const msg = e?.cause?.message && e.cause.message !== e.message ? `${e.message}: ${e.cause.message}` : e?.message;
  return code ? `${code}: ${msg ?? String(err)}` : (msg ?? String(err));
}
