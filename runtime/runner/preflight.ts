import type { Dispatcher } from 'undici';
import { serverConnections } from './server-dispatcher.ts';
import { InputError } from '../core/errors.ts';
import type { RequestRecord } from '../core/records/record.ts';
import type { Clock } from '../timing/clock.ts';
import type { ServerFacts } from '../core/records/server-facts.ts';
import { serverDialects, serversWithIgnoreEos, type ServerDialect, type ServerType } from '../core/scenario/servers.ts';
import { tokenizerFromJson } from '../tokenizer/index.ts';
import { contextLength, detectFromModels, detectServer } from './server-detect.ts';
import { endpointCounter, usageProbeCounter, withOverhead, type ContentCounter, type PromptCounter } from './token-counters.ts';
import { loadTokenizerFiles, type HubAccess, type TokenizerFiles } from './tokenizer-source.ts';
import { errorMessage } from './openai-events.ts';
import { prepareRequest, requestBody, requestHeaders, requestPath, sendRequest, type RequestTemplate } from './request.ts';

export interface TargetInfo {
  model: string;
  models: string[];
  /** The server's dialect: `server.type`, or what the server revealed (server-detect.ts). */
  dialect: ServerDialect;
  /** How the runner counts prompt tokens as this server does. */
  counter: PromptCounter;
  /** The model's context length where the server states it; null when it does not. */
  maxModelLen: number | null;
  /** What the server says of itself, its type and how prompts were counted: recorded in run.json. */
  server: ServerFacts;
  /** Lines for the run's log: which server, from what, and how prompts are counted. */
  notes: string[];
}

/** What the runner knows of the server before asking it (the scenario's `server` and `tokenizer`). */
export interface TargetSettings {
  model: string | undefined;
  type: ServerType | null;
  ignoreEos: boolean;
  tokenizer: { source: string; token: string | undefined } | null;
  hub: HubAccess;
  /** Ctrl-C: a tokenizer download stops at once. */
  signal?: AbortSignal;
  /** Called when a probe request was answered 200: the server counted it as a finished request (its metrics' account). */
  onServed?: () => void;
}

/**
 * Checks the target before anything is created: reachable, OpenAI-compatible, serving the model,
 * which server it is, whether it can give the workload (ignore_eos), and how to count its tokens.
 * Every failure is an InputError naming the input and the fix.
 */
export async function inspectTarget(dispatcher: Dispatcher, baseUrl: string, t: Omit<RequestTemplate, 'model'>, s: TargetSettings): Promise<TargetInfo> {
  const listed = await listModels(dispatcher, baseUrl, t);
  const models = listed.entries.map((m) => String(m.id));
  const chosen = chooseModel(models, baseUrl, s.model);
  const { dialect, info, notes, detected } = await whichServer(dispatcher, t, listed, s.type);
  refuseWithoutIgnoreEos(dialect, s.ignoreEos, 'set server.ignore_eos: false in the config');
  const entry = listed.entries.find((m) => String(m.id) === chosen);
  const maxModelLen = contextLength(dialect.type, entry, info);
  const facts = await serverFacts(dispatcher, t);
  const template: RequestTemplate = { ...t, model: chosen };
  const counter = await promptCounter(dispatcher, template, dialect, s);
  notes.push(`prompt tokens counted by ${counter.detail}`);
  const server: ServerFacts = {
    version: facts?.version ?? null,
    settings: facts?.settings ?? {},
    type: dialect.type,
    typeFrom: detected,
    promptTokens: { method: counter.method, detail: counter.detail },
  };
  return { model: chosen, models, dialect, counter, maxModelLen, server, notes };
}

/** The model to request: the one named, if the server serves it; else the server's first. */
function chooseModel(models: string[], baseUrl: string, model: string | undefined): string {
  if (model === undefined) {
    if (models[0] === undefined) throw new InputError('--target', [`${baseUrl} serves no model (GET /v1/models returned an empty list)`], 'start the server with a model loaded.');
    return models[0];
  }
  if (!models.includes(model)) throw new InputError('--model', [`model "${model}" is not served by ${baseUrl}; it serves: ${models.join(', ')}`], `pass --model ${models[0]} (or set server.model_name in the config).`);
  return model;
}

/** A server that cannot hold outputs at max_tokens is refused for a fixed-length run; `howToTurnOff` is the user's way to set ignore_eos false. */
function refuseWithoutIgnoreEos(dialect: ServerDialect, ignoreEos: boolean, howToTurnOff: string): void {
  if (!ignoreEos || dialect.ignoreEos) return;
  throw new InputError(
    'server.ignore_eos',
    [`${dialect.name} has no ignore_eos (nor min_tokens): it stops at the model's end-of-sequence token, so outputs cannot be held at exactly the requested length, which the baseline needs (server.ignore_eos: true)`],
    `${howToTurnOff} to measure variable-length output (the summary says the run is not the fixed-length baseline), or serve the model with ${serversWithIgnoreEos()}.`,
  );
}

/** The dialect to speak: the configured type unless the server plainly says it is another. */
async function whichServer(
  dispatcher: Dispatcher,
  t: Omit<RequestTemplate, 'model'>,
  listed: ListedModels,
  configured: ServerType | null,
): Promise<{ dialect: ServerDialect; info: Record<string, unknown> | null; notes: string[]; detected: string }> {
  let info: Record<string, unknown> | null = null;
  let found = detectFromModels({ models: listed.entries, serverHeader: listed.serverHeader });
  if (!found) {
    info = await getJson(dispatcher, t, '/info');
    const ollamaVersion = info ? null : await getJson(dispatcher, t, '/api/version');
    found = detectServer({ models: listed.entries, serverHeader: listed.serverHeader, info, ollamaVersion });
  } else if (serverDialects[found.type].contextLength === 'info.max_total_tokens') {
    info = await getJson(dispatcher, t, '/info');
  }
  const notes: string[] = [];
  let type: ServerType;
  if (configured === null) {
    type = found.type;
    notes.push(`server: ${serverDialects[type].name} (detected: ${found.evidence})`);
  } else if (found.type !== 'openai' && found.type !== configured) {
    // The dialect only decides how to talk to the server (tokenize, fields), never what is measured:
    // the server's own word is the safer one, and the run says so.
    type = found.type;
    notes.push(`server: ${serverDialects[type].name} — server.type says ${configured}, but the server says otherwise (${found.evidence}); speaking ${type}'s dialect. Set server.type: ${type} (or remove it) to silence this.`);
  } else {
    type = configured;
    notes.push(`server: ${serverDialects[type].name} (server.type)`);
  }
  return { dialect: serverDialects[type], info, notes, detected: type === configured ? 'server.type' : found.evidence };
}

/**
 * The best way this server's prompts can be counted exactly (token-counters.ts): its tokenize
 * endpoint; else the configured tokenizer, loaded here (a named tokenizer that cannot be loaded is
 * refused: the user asked for it); else usage probes.
 */
async function promptCounter(dispatcher: Dispatcher, t: RequestTemplate, dialect: ServerDialect, s: TargetSettings): Promise<PromptCounter> {
  const headers = requestHeaders(t);
  const overheadOf = async (count: ContentCounter, why: string): Promise<number> => Math.max(0, (await promptUsage(dispatcher, t, 'hello', why, s.onServed)) - (await count('hello')));
  const endpoint = endpointCounter(dispatcher, dialect, t.api, t.model, headers);
  let endpointFailure: string | null = null;
  if (endpoint) {
    try {
      await endpoint.count('hello');
      const detail = `POST ${endpoint.path} (${dialect.name})`;
      if (endpoint.kind === 'full') return { method: 'tokenize-endpoint', detail, count: endpoint.count };
      const overhead = await overheadOf(endpoint.count, `${endpoint.path} counts text only`);
      return { method: 'tokenize-endpoint', detail: `${detail} + ${overhead} template tokens (usage of a 1-word probe)`, count: withOverhead(endpoint.count, overhead) };
    } catch (err) {
      if (err instanceof InputError) throw err;
      endpointFailure = (err as Error)?.message ?? String(err);
    }
  }
  const why = endpoint ? `its tokenize endpoint failed (${endpointFailure})` : `${dialect.name} has no tokenize endpoint`;
  // The server first: a server that cannot generate or report usage is the problem to name, not
  // the tokenizer (and its count of one word is the template overhead's measure).
  const helloTokens = await promptUsage(dispatcher, t, 'hello', why, s.onServed);
  if (s.tokenizer) {
    const files = await loadTokenizerFiles(s.tokenizer.source, s.hub, s.tokenizer.token, s.signal);
    const tokenizer = textTokenizer(files);
    const content: ContentCounter = async (p) => tokenizer.count(p);
    const overhead = Math.max(0, helloTokens - tokenizer.count('hello'));
    return { method: 'client-tokenizer', detail: `tokenizer ${files.from} + ${overhead} template tokens (usage of a 1-word probe)`, count: withOverhead(content, overhead) };
  }
  const probed = await usageProbeCounter((p) => promptUsage(dispatcher, t, p, why, s.onServed));
  if ('tooFew' in probed) {
    throw new InputError('tokenizer.pretrained_model_name_or_path', [`the server cannot count prompt tokens (${why}), and usage probes found only ${probed.tooFew} one-token words`], "set tokenizer.pretrained_model_name_or_path to the served model's tokenizer (a local directory or a Hugging Face model id).");
  }
  return probed;
}

/** A text tokenizer over the files (runtime/tokenizer). */
function textTokenizer(files: TokenizerFiles): { count(text: string): number } {
  try {
    return tokenizerFromJson(files.json, files.config);
  } catch (err) {
    throw new InputError('tokenizer.pretrained_model_name_or_path', [`${files.from} is not a tokenizer this runner can load (${(err as Error)?.message ?? String(err)})`], "give the served model's tokenizer.json, as Hugging Face model repositories ship it.");
  }
}

/** `GET path` as a JSON object, or null (absent, not JSON, slow): detection asks, never insists. */
async function getJson(dispatcher: Dispatcher, t: Omit<RequestTemplate, 'model'>, path: string): Promise<Record<string, unknown> | null> {
  try {
    const res = await dispatcher.request({ path, method: 'GET', headers: requestHeaders({ ...t, model: '' }), headersTimeout: 5000, bodyTimeout: 5000 });
    const text = await res.body.text();
    if (res.statusCode !== 200) return null;
    const obj = JSON.parse(text) as unknown;
    return obj && typeof obj === 'object' && !Array.isArray(obj) ? (obj as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * `GET /version` (vLLM: `{"version": "0.11.0"}`; the simulator adds its latency settings under
 * `settings`). Best effort: a server without it, or a slow answer, leaves the context without
 * server facts — it never stops a run.
 */
async function serverFacts(dispatcher: Dispatcher, t: Omit<RequestTemplate, 'model'>): Promise<ServerFacts | null> {
  const obj = await getJson(dispatcher, t, '/version');
  if (!obj) return null;
  const settings: Record<string, string> = {};
  if (obj.settings && typeof obj.settings === 'object') {
    for (const [k, v] of Object.entries(obj.settings as Record<string, unknown>)) {
      if (v !== null && ['string', 'number', 'boolean'].includes(typeof v)) settings[k] = String(v);
    }
  }
  return { version: typeof obj.version === 'string' ? obj.version : null, settings };
}

/**
 * Only the first question of inspectTarget — reachable, OpenAI-compatible, listing models — for a
 * command that hands the run to someone else (the workflow's Job) and should not start it for a
 * server that cannot answer. `input` is how the user named the server.
 */
export async function checkTargetAnswers(
  baseUrl: string,
  input: string,
  run?: { model: string | undefined; modelInput?: string; type: ServerType | null; ignoreEos: boolean; apiKey: string | undefined; howToTurnOffIgnoreEos: string },
): Promise<void> {
  const client = serverConnections(baseUrl, { single: true, pool: { connect: { timeout: 10_000 } } });
  const t = { api: 'completion' as const, streaming: true, ignoreEos: true, headers: {}, apiKey: run?.apiKey, timeoutMs: 10_000 };
  try {
    const listed = await listModels(client.dispatcher, baseUrl, t);
    if (run) {
      chooseModel(listed.entries.map((m) => String(m.id)), baseUrl, run.model);
      const { dialect } = await whichServer(client.dispatcher, t, listed, run.type);
      refuseWithoutIgnoreEos(dialect, run.ignoreEos, run.howToTurnOffIgnoreEos);
    }
  } catch (err) {
    if (err instanceof InputError && err.input === '--target' && input !== '--target') throw new InputError(input, err.problems, err.fix);
    if (err instanceof InputError && err.input === '--model' && run?.modelInput) throw new InputError(run.modelInput, err.problems, err.fix);
    throw err;
  } finally {
    await client.destroy().catch(() => undefined);
  }
}

interface ListedModels {
  entries: Array<Record<string, unknown>>;
  serverHeader: string | null;
}

async function listModels(dispatcher: Dispatcher, baseUrl: string, t: Omit<RequestTemplate, 'model'>): Promise<ListedModels> {
  let status: number;
  let text: string;
  let serverHeader: string | null = null;
  try {
    const res = await dispatcher.request({ path: '/v1/models', method: 'GET', headers: requestHeaders({ ...t, model: '' }), headersTimeout: 10_000, bodyTimeout: 10_000 });
    status = res.statusCode;
    const h = res.headers.server;
    serverHeader = typeof h === 'string' ? h : null;
    text = await res.body.text();
  } catch (err) {
    const e = err as { code?: string; message?: string; cause?: { code?: string } };
    if (e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT') {
      throw new InputError('--target', [`${baseUrl} accepted the connection but sent no answer to GET /v1/models within 10 s`], "check the server's health: it may be stuck, overloaded, or still loading the model.");
    }
    throw new InputError('--target', [`cannot reach ${baseUrl}: ${e.code ?? e.cause?.code ?? ''} ${e.message ?? String(err)}`.trim()], 'check the URL and that the server is running and reachable from here.');
  }
  if (status === 401 || status === 403) {
    throw new InputError('--target', [`${baseUrl} refused the request (HTTP ${status})`], 'set server.api_key in the config to the key the server expects.');
  }
  let entries: Array<Record<string, unknown>> | undefined;
  try {
    const obj = JSON.parse(text) as { data?: unknown };
    if (status === 200 && Array.isArray(obj.data)) entries = obj.data.filter((m): m is Record<string, unknown> => m !== null && typeof m === 'object' && !Array.isArray(m));
  } catch {
    entries = undefined;
  }
  if (!entries && status >= 500) {
    throw new InputError('--target', [`${baseUrl} answered HTTP ${status} to GET /v1/models: ${bodyExcerpt(text)}`], 'the server is up but failing: check its logs and health, then run again.');
  }
  if (!entries) {
    throw new InputError('--target', [`${baseUrl} is not an OpenAI-compatible server: GET /v1/models answered HTTP ${status} ${text.slice(0, 120)}`], "point --target at the server's base URL without /v1, e.g. http://host:8000.");
  }
  return { entries, serverHeader };
}

const PROBE_LIMIT_MS = 60_000;

/**
 * The server's usage.prompt_tokens for `prompt`, from one non-streamed 1-token request: how the
 * runner learns what the server adds to a prompt, or (usage probes) what words cost, when it
 * cannot count like the server (`why` says why not). A healthy server answers a tiny 1-token
 * request in far less than a minute, so the probe waits at most that, or load.request_timeout when
 * the user set a shorter limit.
 */
async function promptUsage(dispatcher: Dispatcher, t: RequestTemplate, prompt: string, why: string, served?: () => void): Promise<number> {
  const path = requestPath(t.api);
  const limitMs = Math.min(t.timeoutMs, PROBE_LIMIT_MS);
  let status: number;
  let text: string;
  try {
    const res = await dispatcher.request({ path, method: 'POST', headers: requestHeaders(t), body: JSON.stringify(requestBody({ ...t, streaming: false }, prompt, 1)), headersTimeout: limitMs, bodyTimeout: limitMs });
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
  served?.();
  try {
    const tokens = (JSON.parse(text) as { usage?: { prompt_tokens?: number } }).usage?.prompt_tokens;
    if (typeof tokens === 'number') return tokens;
  } catch {
    // fall through to the error below
  }
  throw new InputError(
    '--target',
    [`the runner cannot count prompt tokens as the server does: ${why}, and POST ${path} answered without usage.prompt_tokens: ${bodyExcerpt(text)}`],
    "set tokenizer.pretrained_model_name_or_path to the served model's tokenizer (a local directory or a Hugging Face model id), or use a server that reports usage.",
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
export async function warmUp(dispatcher: Dispatcher, t: RequestTemplate, prompt: string, promptTokens: number, maxTokens: number, clock: Clock, attempts = 8): Promise<RequestRecord> {
  let last: RequestRecord | undefined;
  let tries = 0;
  let stalls = 0;
  while (tries < attempts) {
    const r = await sendRequest(dispatcher, t, prepareRequest(t, { runId: 'warmup', shard: 0, seq: tries, stage: 0, scheduledAt: clock(), prompt, promptTokens, maxTokens }), clock);
    tries += 1;
    if (!r.error) return r;
    last = r;
    if (r.error.type === 'timeout') stalls += 1;
    const clientError = r.error.type === 'http_status' && r.status !== null && r.status >= 400 && r.status < 500;
    if (clientError || r.error.type === 'protocol' || r.error.type === 'connect' || stalls >= MAX_WARM_UP_STALLS) break;
  }
  throw warmUpError(last!, t, tries);
}

/**
 * What the successful warm-up proves before the run, by the server's own usage: the prompt count
 * method agrees with the server (else every request would be off and the run invalid only after it
 * ran), and with ignore_eos the output ran to max_tokens — a server that stopped at EOS
 * (finish_reason "stop", TGI's "eos_token") ignored it, and the whole run would be short.
 */
export function checkWarmUp(r: RequestRecord, target: Pick<TargetInfo, 'dialect' | 'counter'>, t: RequestTemplate): void {
  const name = target.dialect.name;
  const served = r.inputTokens.server;
  if (served !== null && served !== r.inputTokens.requested) {
    const fix =
      target.counter.method === 'client-tokenizer'
        ? "point tokenizer.pretrained_model_name_or_path at the served model's own tokenizer."
        : target.counter.method === 'usage-probe'
          ? "set tokenizer.pretrained_model_name_or_path to the served model's tokenizer (a local directory or a Hugging Face model id)."
          : `the server's tokenize endpoint counts differently from its generation endpoint: set tokenizer.pretrained_model_name_or_path to the served model's tokenizer, or check server.type (now ${target.dialect.type}).`;
    throw new InputError('prompt calibration', [`the warm-up prompt was made ${r.inputTokens.requested} tokens long by ${target.counter.detail}, but ${name} counted ${served} (usage.prompt_tokens), so every prompt would be off`], fix);
  }
  if (!t.ignoreEos) return;
  const out = r.outputTokens.server ?? r.outputTokens.client;
  const stopped = r.finishReason === 'stop' || r.finishReason === 'eos_token';
  if (stopped || (out !== null && out < r.outputTokens.requested)) {
    throw new InputError(
      'server.ignore_eos',
      [`${name} stopped the warm-up after ${out ?? 'fewer'} of ${r.outputTokens.requested} output tokens${r.finishReason ? ` (finish_reason "${r.finishReason}")` : ''}: it did not honour ignore_eos, so outputs would not be the requested length`],
      `serve the model with a server that honours ignore_eos or min_tokens (${serversWithIgnoreEos()}), set server.type if detection picked the wrong one (now ${target.dialect.type}), or set server.ignore_eos: false to measure variable-length output.`,
    );
  }
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
