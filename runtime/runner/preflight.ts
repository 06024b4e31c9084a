import type { Dispatcher } from 'undici';
import { InputError } from '../core/errors.ts';
import type { RequestRecord } from '../core/records/record.ts';
import type { Clock } from '../timing/clock.ts';
import type { ServerFacts } from '../core/records/server-facts.ts';
import { tokenizeCounter, type TokenCounter } from './prompts.ts';
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
  } catch {
    const overhead = await probePromptOverhead(dispatcher, template);
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

/** Tokens the server adds to any prompt (BOS, chat template), from one non-streamed 1-token request. */
async function probePromptOverhead(dispatcher: Dispatcher, t: RequestTemplate): Promise<number> {
  const res = await dispatcher.request({ path: requestPath(t.api), method: 'POST', headers: requestHeaders(t), body: JSON.stringify({ ...requestBody({ ...t, streaming: false }, 'hello', 1) }), headersTimeout: 60_000, bodyTimeout: 60_000 });
  const text = await res.body.text();
  try {
    const tokens = (JSON.parse(text) as { usage?: { prompt_tokens?: number } }).usage?.prompt_tokens;
    if (res.statusCode === 200 && typeof tokens === 'number') return Math.max(0, tokens - 1);
  } catch {
    // fall through to the error below
  }
  throw new InputError('--target', [`POST ${requestPath(t.api)} answered HTTP ${res.statusCode} without usage.prompt_tokens: ${text.slice(0, 200)}`], 'use a server that has /tokenize or reports usage (vLLM, SGLang), or check api.type.');
}

/**
 * One real request before the run: proves the generation endpoint works end to end (before any
 * result directory exists) and estimates e2e latency for sizing the connection pool. A 4xx answer is
 * the user's to fix at once; transient failures (5xx, dropped streams) are retried a few times, since
 * a flaky target is still worth measuring — the run itself will count its failures.
 */
export async function warmUp(dispatcher: Dispatcher, t: RequestTemplate, prompt: string, promptTokens: number, maxTokens: number, clock: Clock, attempts = 8): Promise<number> {
  let last: RequestRecord | undefined;
  for (let i = 0; i < attempts; i++) {
    const r = await sendRequest(dispatcher, t, prepareRequest(t, { runId: 'warmup', shard: 0, seq: i, stage: 0, scheduledAt: clock(), prompt, promptTokens, maxTokens }), clock);
    if (!r.error) return (r.doneAt ?? clock()) - (r.sentAt ?? clock());
    last = r;
    const clientError = r.error.type === 'http_status' && r.status !== null && r.status >= 400 && r.status < 500;
    if (clientError || r.error.type === 'protocol' || r.error.type === 'connect') break;
  }
  const e = last!.error!;
  throw new InputError('--target', [`a warm-up request to POST ${requestPath(t.api)} failed (${e.type}): ${e.message}`], 'check api.type (completion or chat) and that the server can generate for this model.');
}
