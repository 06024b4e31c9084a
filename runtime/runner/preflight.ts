import type { Dispatcher } from 'undici';
import { InputError } from '../core/errors.ts';
import type { RequestRecord } from '../core/records/record.ts';
import type { Clock } from '../timing/clock.ts';
import type { ServerFacts } from '../core/records/server-facts.ts';
import { tokenizeCounter, type TokenCounter } from './prompts.ts';
import { errorMessage } from './openai-events.ts';
import { prepareRequest, requestBody, requestHeaders, requestPath, sendRequest, type RequestTemplate } from './request.ts';

export interface TargetInfo {
  model: string;
  models: string[];
  count: TokenCounter;
  tokenizer: 'tokenize-endpoint' | 'usage-probe';
  /** The model's context length as the server reports it (vLLM: `max_model_len` in /v1/models); null when it does not. */
  maxModelLen: number | null;
  /** What the server says of itself (`GET /version`), recorded in run.json for the run's context. */
  server: ServerFacts | null;
}

/**
 * Checks the target before anything is created: reachable, OpenAI-compatible, serving the model,
 * and how to count its tokens. Every failure is an InputError naming the input and the fix.
 */
export async function inspectTarget(dispatcher: Dispatcher, baseUrl: string, t: Omit<RequestTemplate, 'model'>, model: string | undefined): Promise<TargetInfo> {
  const listed = await listModels(dispatcher, baseUrl, t);
  const models = listed.map((m) => m.id);
  let chosen = model;
  if (chosen === undefined) {
    chosen = models[0];
    if (chosen === undefined) throw new InputError('--target', [`${baseUrl} serves no model (GET /v1/models returned an empty list)`], 'start the server with a model loaded.');
  } else if (!models.includes(chosen)) {
    throw new InputError('--model', [`model "${chosen}" is not served by ${baseUrl}; it serves: ${models.join(', ')}`], `pass --model ${models[0]} (or set server.model_name in the config).`);
  }
  const maxModelLen = listed.find((m) => m.id === chosen)?.maxModelLen ?? null;
  const server = await serverFacts(dispatcher, t);
  const template: RequestTemplate = { ...t, model: chosen };
  const headers = requestHeaders(template);
  const tokenize = tokenizeCounter(dispatcher, t.api, chosen, headers);
  try {
    await tokenize('hello');
    return { model: chosen, models, count: tokenize, tokenizer: 'tokenize-endpoint', maxModelLen, server };
  } catch (err) {
    const overhead = await probePromptOverhead(dispatcher, template, (err as Error)?.message ?? String(err));
    // Without /tokenize, assume one token per word (the word list is chosen for that) and let the
    // server's usage check every prompt afterwards: mismatches make the run invalid, never silent.
    return { model: chosen, models, count: async (p) => p.split(/\s+/).filter(Boolean).length + overhead, tokenizer: 'usage-probe', maxModelLen, server };
  }
}

/**
 * `GET /version` (vLLM: `{"version": "0.11.0"}`; the simulator adds its latency settings under
 * `settings`). Best effort: a server without it, or a slow answer, leaves the context without
 * server facts — it never stops a run.
 */
async function serverFacts(dispatcher: Dispatcher, t: Omit<RequestTemplate, 'model'>): Promise<ServerFacts | null> {
  try {
    const res = await dispatcher.request({ path: '/version', method: 'GET', headers: requestHeaders({ ...t, model: '' }), headersTimeout: 5000, bodyTimeout: 5000 });
    const text = await res.body.text();
    if (res.statusCode !== 200) return null;
    const obj = JSON.parse(text) as { version?: unknown; settings?: unknown };
    const settings: Record<string, string> = {};
    if (obj.settings && typeof obj.settings === 'object') {
      for (const [k, v] of Object.entries(obj.settings as Record<string, unknown>)) {
        if (v !== null && ['string', 'number', 'boolean'].includes(typeof v)) settings[k] = String(v);
      }
    }
    return { version: typeof obj.version === 'string' ? obj.version : null, settings };
  } catch {
    return null;
  }
}

async function listModels(dispatcher: Dispatcher, baseUrl: string, t: Omit<RequestTemplate, 'model'>): Promise<Array<{ id: string; maxModelLen: number | null }>> {
  let status: number;
  let text: string;
  try {
    const res = await dispatcher.request({ path: '/v1/models', method: 'GET', headers: requestHeaders({ ...t, model: '' }), headersTimeout: 10_000, bodyTimeout: 10_000 });
    status = res.statusCode;
    text = await res.body.text();
  } catch (err) {
    const e = err as { code?: string; message?: string; cause?: { code?: string } };
    throw new InputError('--target', [`cannot reach ${baseUrl}: ${e.code ?? e.cause?.code ?? ''} ${e.message ?? String(err)}`.trim()], 'check the URL and that the server is running and reachable from here.');
  }
  if (status === 401 || status === 403) {
    throw new InputError('--target', [`${baseUrl} refused the request (HTTP ${status})`], 'set server.api_key in the config to the key the server expects.');
  }
  let ids: Array<{ id: string; maxModelLen: number | null }> | undefined;
  try {
    const obj = JSON.parse(text) as { data?: Array<{ id?: unknown; max_model_len?: unknown }> };
    if (status === 200 && Array.isArray(obj.data)) {
      ids = obj.data.map((m) => ({ id: String(m.id), maxModelLen: typeof m.max_model_len === 'number' && m.max_model_len > 0 ? m.max_model_len : null }));
    }
  } catch {
    ids = undefined;
  }
  if (!ids) {
    throw new InputError('--target', [`${baseUrl} is not an OpenAI-compatible server: GET /v1/models answered HTTP ${status} ${text.slice(0, 120)}`], "point --target at the server's base URL without /v1, e.g. http://host:8000.");
  }
  return ids;
}

const PROBE_LIMIT_MS = 60_000;

/**
 * Tokens the server adds to any prompt (BOS, chat template), from one non-streamed 1-token request;
 * used when /tokenize failed (`tokenizeFailure` says how). A healthy server answers a one-word,
 * 1-token request in far less than a minute, so the probe waits at most that, or
 * load.request_timeout when the user set a shorter limit.
 */
async function probePromptOverhead(dispatcher: Dispatcher, t: RequestTemplate, tokenizeFailure: string): Promise<number> {
  const path = requestPath(t.api);
  const limitMs = Math.min(t.timeoutMs, PROBE_LIMIT_MS);
  let status: number;
  let text: string;
  try {
    const res = await dispatcher.request({ path, method: 'POST', headers: requestHeaders(t), body: JSON.stringify({ ...requestBody({ ...t, streaming: false }, 'hello', 1) }), headersTimeout: limitMs, bodyTimeout: limitMs });
    status = res.statusCode;
    text = await res.body.text();
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT') {
      const userLimit = limitMs === t.timeoutMs;
      throw new InputError(
        '--target',
        [`a 1-token probe to POST ${path} got no answer: nothing arrived for ${seconds(limitMs)} (${userLimit ? 'load.request_timeout' : "the probe's limit"})`],
        userLimit ? stallFix(t) : "check the server's logs and health: a healthy server answers a 1-token request in well under a minute.",
      );
    }
    throw new InputError('--target', [`a 1-token probe to POST ${path} failed: ${`${e.code ?? ''} ${e.message ?? String(err)}`.trim()}`], 'check that the server is running and reachable from here, and its logs.');
  }
  if (status >= 500) throw new InputError('--target', [`POST ${path} answered HTTP ${status} to a 1-token probe: ${bodyExcerpt(text)}`], serverErrorFix(t));
  if (status !== 200) throw new InputError('--target', [`POST ${path} answered HTTP ${status} to a 1-token probe: ${bodyExcerpt(text)}`], `check api.type (completion or chat): the server must serve POST ${path} for model "${t.model}".`);
  try {
    const tokens = (JSON.parse(text) as { usage?: { prompt_tokens?: number } }).usage?.prompt_tokens;
    if (typeof tokens === 'number') return Math.max(0, tokens - 1);
  } catch {
    // fall through to the error below
  }
  throw new InputError(
    '--target',
    [`the server cannot count prompt tokens: /tokenize failed (${tokenizeFailure}) and POST ${path} answered without usage.prompt_tokens: ${bodyExcerpt(text)}`],
    'use a server that has /tokenize or reports usage (vLLM, SGLang).',
  );
}

/** Stalled warm-up tries before the stall is reported (warmUp says why so few). */
const MAX_WARM_UP_STALLS = 2;

/**
 * One real request before the run: proves the generation endpoint works end to end (before any
 * result directory exists) and estimates e2e latency for sizing the connection pool. A 4xx answer is
 * the user's to fix at once; transient failures (5xx, dropped streams) are retried a few times, since
 * a flaky target is still worth measuring — the run itself will count its failures.
 *
 * A stall (load.request_timeout of silence) is judged by the configured request_timeout, not by a
 * shorter probe timeout of our own: it is the user's word for "stalled", and the run's requests are
 * judged by it too, so the warm-up never refuses a server the run would accept (a slow first token
 * on a cold or long-context model). But each stalled try costs that whole limit, so stalls get one
 * retry, not seven (8 tries of 3.6 s were ~29 s): a second chance for a flaky target, and two
 * stalls are all it takes to report a stuck one.
 */
export async function warmUp(dispatcher: Dispatcher, t: RequestTemplate, prompt: string, promptTokens: number, maxTokens: number, clock: Clock, attempts = 8): Promise<number> {
  let last: RequestRecord | undefined;
  let tries = 0;
  let stalls = 0;
  while (tries < attempts) {
    const r = await sendRequest(dispatcher, t, prepareRequest(t, { runId: 'warmup', shard: 0, seq: tries, stage: 0, scheduledAt: clock(), prompt, promptTokens, maxTokens }), clock);
    tries += 1;
    if (!r.error) return (r.doneAt ?? clock()) - (r.sentAt ?? clock());
    last = r;
    if (r.error.type === 'timeout') stalls += 1;
    const clientError = r.error.type === 'http_status' && r.status !== null && r.status >= 400 && r.status < 500;
    if (clientError || r.error.type === 'protocol' || r.error.type === 'connect' || stalls >= MAX_WARM_UP_STALLS) break;
  }
  throw warmUpError(last!, t, tries);
}

/** Why the warm-up failed, worded by what happened: the fix differs for a 500, a stall and a wrong api.type. */
function warmUpError(r: RequestRecord, t: RequestTemplate, tries: number): InputError {
  const e = r.error!;
  const path = requestPath(t.api);
  const times = tries > 1 ? ` (the last of ${tries} tries)` : '';
  const tokens = r.contentTimes.length;
  const tokenText = `${tokens} token${tokens === 1 ? '' : 's'}`;
  if (e.type === 'timeout') {
    const silence = `nothing for ${seconds(t.timeoutMs)} (load.request_timeout)`;
    const lastToken = r.contentTimes.at(-1);
    const what =
      r.status === null
        ? `got no response: no headers arrived within ${seconds(t.timeoutMs)} (load.request_timeout)`
        : !t.streaming
          ? `stalled: the response sent ${silence}`
          : lastToken !== undefined && r.sentAt !== null
            ? `stalled after ${tokenText}, ${elapsed(lastToken - r.sentAt)} after it was sent: then the stream sent ${silence}`
            : `stalled before its first token: the stream sent ${silence}`;
    return new InputError('--target', [`the warm-up request to POST ${path} ${what}${times}`], stallFix(t));
  }
  if (e.type === 'http_status' && r.status !== null && r.status >= 500) {
    return new InputError('--target', [`POST ${path} answered HTTP ${r.status} to the warm-up request${times}: ${quoted(e.message.replace(/^HTTP \d+: /, ''))}`], serverErrorFix(t));
  }
  if (e.type === 'aborted') {
    return new InputError('--target', [`the warm-up request to POST ${path} was cut off after ${tokenText}${times}: ${e.message}`], `the server dropped the response: check its logs and that it can generate for model "${t.model}"; then run again.`);
  }
  if (e.type === 'in_band') {
    return new InputError('--target', [`the server reported an error in the warm-up response to POST ${path} after ${tokenText}${times}: ${quoted(e.message)}`], serverErrorFix(t));
  }
  if (e.type === 'connect') {
    return new InputError('--target', [`the warm-up request to POST ${path} could not be sent: ${e.message}`], 'check that the server is still running and reachable from here.');
  }
  return new InputError('--target', [`a warm-up request to POST ${path} failed (${e.type}): ${e.message}`], 'check api.type (completion or chat) and that the server can generate for this model.');
}

function serverErrorFix(t: RequestTemplate): string {
  return `the server is up (it listed its models) but failed to generate: check its logs and that it can generate for model "${t.model}"; then run again.`;
}

function stallFix(t: RequestTemplate): string {
  return `check the server's logs and health (a stuck or overloaded engine stops sending); if it is only slow, raise load.request_timeout in the config (now ${seconds(t.timeoutMs)}).`;
}

/** A configured limit, in the seconds the config states it in. */
function seconds(ms: number): string {
  return `${ms / 1000} s`;
}

/** A measured time, to a useful precision. */
function elapsed(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** A short, one-line part of a server's answer, quoted. */
function quoted(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  if (line === '') return '(empty body)';
  return `"${line.length > 160 ? `${line.slice(0, 160)}…` : line}"`;
}

/** The message of a JSON error body (OpenAI, vLLM, FastAPI's `detail`), else the text itself; quoted and short. */
function bodyExcerpt(text: string): string {
  try {
    const obj = JSON.parse(text) as Record<string, unknown>;
    if (obj && typeof obj === 'object' && !Array.isArray(obj)) return quoted(errorMessage(obj.error ?? obj.detail ?? obj));
  } catch {
    // not JSON: quote the text
  }
  return quoted(text);
}
