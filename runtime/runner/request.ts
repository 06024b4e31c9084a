import type { Dispatcher } from 'undici';
import type { ErrorType, RequestRecord } from '../core/records/record.ts';
import type { Clock } from '../timing/clock.ts';
import { errorMessage, interpretEvent, usageOf, type Usage } from './openai-events.ts';
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
 * Sends one request and measures it. The body is serialized before the send timestamp; each network
 * chunk is stamped once, on arrival, before it is parsed, and that stamp goes to every
 * content-bearing event it completes. Never throws: every outcome becomes a record.
 */
export async function sendRequest(
  dispatcher: Dispatcher,
  t: RequestTemplate,
  p: PlannedRequest,
  clock: Clock,
  signal?: AbortSignal,
): Promise<RequestRecord> {
  const body = JSON.stringify(requestBody(t, p.prompt, p.maxTokens));
  const headers = requestHeaders(t, `${p.runId}-${p.seq}`);
  const m = new Measurement(p, t.streaming);
  m.sentAt = clock();
  let res: Dispatcher.ResponseData;
  try {
    res = await dispatcher.request({
      path: requestPath(t.api),
      method: 'POST',
      headers,
      body,
      headersTimeout: t.timeoutMs,
      bodyTimeout: t.timeoutMs,
      signal,
    });
  } catch (err) {
    return m.fail(clock(), classify(err, false), describe(err));
  }
  m.status = res.statusCode;
  const contentType = String(res.headers['content-type'] ?? '');
  if (res.statusCode < 200 || res.statusCode >= 300) {
    const text = await readText(res.body, clock, m).catch(() => '');
    return m.fail(m.lastByteAt ?? clock(), 'http_status', `HTTP ${res.statusCode}: ${httpErrorText(text)}`);
  }
  if (t.streaming && !contentType.includes('text/event-stream')) {
    const text = await readText(res.body, clock, m).catch(() => '');
    return m.fail(m.lastByteAt ?? clock(), 'protocol', `expected an event stream, got content-type "${contentType}": ${text.slice(0, 200)}`);
  }
  return t.streaming ? readStream(res.body, clock, m) : readJson(res.body, clock, m);
}

class Measurement {
  sentAt: number | null = null;
  lastByteAt: number | null = null;
  status: number | null = null;
  readonly contentTimes: number[] = [];
  usage: Usage | null = null;
  done = false;

  constructor(
    readonly p: PlannedRequest,
    readonly streaming: boolean,
  ) {}

  record(doneAt: number | null, error: RequestRecord['error']): RequestRecord {
    const p = this.p;
    return {
      v: 1,
      runId: p.runId,
      shard: p.shard,
      seq: p.seq,
      stage: p.stage,
      scheduledAt: p.scheduledAt,
      sentAt: this.sentAt,
      firstTokenAt: this.contentTimes[0] ?? null,
      doneAt,
      contentTimes: this.contentTimes,
      inputTokens: { requested: p.promptTokens, client: p.promptTokens, server: this.usage?.promptTokens ?? null },
      outputTokens: {
        requested: p.maxTokens,
        client: this.streaming ? this.contentTimes.length : null,
        server: this.usage?.completionTokens ?? null,
      },
      status: this.status,
      error,
    };
  }

  fail(at: number, type: ErrorType, message: string): RequestRecord {
    return this.record(at, { type, message });
  }
}

function readStream(body: Dispatcher.ResponseData['body'], clock: Clock, m: Measurement): Promise<RequestRecord> {
  const parser = new SseParser();
  return new Promise((resolve) => {
    let failure: { type: ErrorType; message: string } | null = null;
    const handle = (events: string[], at: number): void => {
      for (const data of events) {
        if (m.done || failure) return;
        const ev = interpretEvent(data);
        if (ev.kind === 'done') m.done = true;
        else if (ev.kind === 'error') failure = { type: 'in_band', message: ev.message };
        else if (ev.kind === 'invalid') failure = { type: 'protocol', message: ev.message };
        else {
          if (ev.content) m.contentTimes.push(at);
          if (ev.usage) m.usage = ev.usage;
        }
      }
    };
    body.on('data', (chunk: Buffer) => {
      const at = clock();
      m.lastByteAt = at;
      handle(parser.push(chunk), at);
    });
    body.on('end', () => {
      handle(parser.end(), m.lastByteAt ?? clock());
      if (failure) resolve(m.fail(m.lastByteAt ?? clock(), failure.type, failure.message));
      else if (!m.done) resolve(m.fail(m.lastByteAt ?? clock(), 'aborted', 'the stream ended before [DONE]'));
      else resolve(m.record(m.lastByteAt, null));
    });
    body.on('error', (err: unknown) => {
      resolve(m.fail(clock(), failure?.type ?? classify(err, true), failure?.message ?? describe(err)));
    });
  });
}

async function readJson(body: Dispatcher.ResponseData['body'], clock: Clock, m: Measurement): Promise<RequestRecord> {
  let text: string;
  try {
    text = await readText(body, clock, m);
  } catch (err) {
    return m.fail(clock(), classify(err, true), describe(err));
  }
  try {
    const obj = JSON.parse(text) as Record<string, unknown>;
    if (obj.error) return m.fail(m.lastByteAt ?? clock(), 'in_band', errorMessage(obj.error));
    m.usage = usageOf(obj.usage);
  } catch {
    return m.fail(m.lastByteAt ?? clock(), 'protocol', `response is not JSON: ${text.slice(0, 200)}`);
  }
  return m.record(m.lastByteAt, null);
}

async function readText(body: Dispatcher.ResponseData['body'], clock: Clock, m: Measurement): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of body) {
    m.lastByteAt = clock();
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts).toString('utf8');
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
