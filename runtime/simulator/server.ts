import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, openSync, type WriteStream } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { Clock } from '../timing/clock.ts';
import { PreciseScheduler } from '../timing/precise-timer.ts';
import {
  drawFailure,
  failurePointTokens,
  planGeneration,
  requestRng,
  type PlannedChunk,
  type Rng,
} from './latency-model.ts';
import type { FailureMode, ResolvedSimulatorOptions } from './options.ts';
import { chatPromptTokens, countWords, UnknownTokenError, WordTokenizer } from './tokenizer.ts';

/**
 * What the simulator really did for one `/v1/completions` or `/v1/chat/completions` request, so a
 * benchmark can compare the client's measurements against it. Every request to those endpoints is
 * recorded, rejected and failed ones too. Times are `clock()` readings (epoch ms, µs resolution)
 * taken immediately after the I/O call they describe.
 */
export interface GroundTruthEntry {
  /** The `x-request-id` request header if present, else generated. */
  requestId: string;
  endpoint: 'completions' | 'chat';
  /** The model the request named (or the default); '' when the body could not be read that far. */
  model: string;
  stream: boolean;
  /** In the http 'request' event (headers parsed). */
  receivedAt: number;
  /** When generation began, after any queueing; equals `receivedAt` when it never began. */
  startedAt: number;
  /** HTTP status sent; 0 when the connection was closed before any status line. */
  status: number;
  promptTokens: number;
  /** Tokens the response carried (usage reports it); for a failed stream, the tokens written before it failed. */
  completionTokens: number;
  /**
   * After each content-bearing write: one per streamed chunk (a multi-token chunk once; the chat role
   * chunk shares the first token's write); for a non-streamed response, one for its body.
   */
  contentWrites: number[];
  /** After the last write / end / socket destroy; null if the client disconnected or the server closed first. */
  doneAt: number | null;
  failure: null | FailureMode;
}

type Endpoint = GroundTruthEntry['endpoint'];

interface Tracked {
  entry: GroundTruthEntry;
  finalized: boolean;
}

/** One accepted generation request, from acceptance until it is closed for good. */
interface Generation {
  tracked: Tracked;
  res: http.ServerResponse;
  endpoint: Endpoint;
  /** `cmpl-…` / `chatcmpl-…` */
  id: string;
  created: number;
  model: string;
  stream: boolean;
  includeUsage: boolean;
  continuousUsage: boolean;
  promptTokens: number;
  maxTokens: number;
  failure: FailureMode | null;
  rng: Rng;
  chunks: PlannedChunk[];
  tokenOffsetsMs: number[];
  /** Output words, drawn when generation starts. */
  words: string[];
  /** A non-status failure strikes once this many tokens are out (Infinity = never). */
  failAt: number;
  tokensWritten: number;
  started: boolean;
  released: boolean;
  /** Nothing more will be written: finished, failed, client gone or server closing. */
  closed: boolean;
}

const maxBodyBytes = 64 * 1024 * 1024;
const sseContentType = 'text/event-stream; charset=utf-8';

// ---------------------------------------------------------------------------------------------
// Request bodies. Loose objects: vLLM accepts and ignores unknown fields; known fields are
// type-checked (a wrong type is a 400 BadRequestError, as in vLLM — not FastAPI's 422).

const optBool = z.boolean().nullable().optional();
const optInt = z.number().int().nullable().optional();
const optNum = z.number().nullable().optional();
const tokenIds = z.array(z.number().int().nonnegative());

const samplingFields = {
  model: z.string().nullable().optional(),
  stream: optBool,
  stream_options: z.looseObject({ include_usage: optBool, continuous_usage_stats: optBool }).nullable().optional(),
  max_tokens: optInt,
  n: optInt,
  ignore_eos: optBool,
  min_tokens: optInt,
  temperature: optNum,
  top_p: optNum,
  top_k: optInt,
  seed: optInt,
};

const CompletionBody = z.looseObject({
  ...samplingFields,
  prompt: z.union([z.string(), z.array(z.string()), tokenIds, z.array(tokenIds)]),
});

const MessageBody = z.looseObject({
  role: z.string(),
  content: z
    .union([z.string(), z.array(z.looseObject({ type: z.string(), text: z.string().nullable().optional() }))])
    .nullable()
    .optional(),
});

const ChatBody = z.looseObject({
  ...samplingFields,
  messages: z.array(MessageBody).min(1),
  max_completion_tokens: optInt,
});

/** vLLM's TokenizeCompletionRequest (`prompt`) or TokenizeChatRequest (`messages`). */
const TokenizeBody = z
  .looseObject({
    model: z.string().nullable().optional(),
    prompt: z.string().optional(),
    messages: z.array(MessageBody).optional(),
    return_token_strs: optBool,
  })
  .refine((b) => b.prompt !== undefined || b.messages !== undefined, { message: 'either `prompt` or `messages` is required' });

const DetokenizeBody = z.looseObject({ model: z.string().nullable().optional(), tokens: z.array(z.number().int()) });

// ---------------------------------------------------------------------------------------------

/** A problem with the request, answered with vLLM's error JSON before anything is generated. */
class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** vLLM names the error type after the status: 400 BadRequestError, 404 NotFoundError, 500 InternalServerError… */
export function errorTypeForStatus(status: number): string {
  return `${(http.STATUS_CODES[status] ?? 'Internal Server Error').replace(/[^A-Za-z]/g, '')}Error`;
}

/** vLLM's `ErrorResponse` as JSONResponse renders it (compact). */
export function errorBody(message: string, status: number): string {
  return JSON.stringify({ error: { message, type: errorTypeForStatus(status), param: null, code: status } });
}

/** Python's `json.dumps` text (", " and ": " separators, ASCII only) — how vLLM writes in-band errors. */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') {
    return JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`;
  const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) => `${pythonJsonDumps(k)}: ${pythonJsonDumps(v)}`);
  return `{${entries.join(', ')}}`;
}

function sse(payload: unknown): string {
  return `data: ${typeof payload === 'string' ? payload : JSON.stringify(payload)}\n\n`;
}

function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : 'body'}: ${i.message}`).join('; ');
}

/**
 * The vLLM-compatible HTTP server. One instance owns its scheduler, tokenizer, queue and ground
 * truth; nothing is process-wide.
 */
export class SimulatorServer {
  readonly server: http.Server;
  private readonly scheduler: PreciseScheduler;
  private readonly tokenizer = new WordTokenizer();
  private readonly tracked: Tracked[] = [];
  private readonly live = new Set<Generation>();
  private readonly queue: Generation[] = [];
  private running = 0;
  private sequence = 0;
  private groundTruthStream: WriteStream | undefined;
  private groundTruthError: Error | undefined;
  private closePromise: Promise<void> | undefined;
  /** Per served model: prompt tokens prefilled, tokens generated, requests finished normally. */
  private readonly perModel = new Map<string, { promptTokens: number; generationTokens: number; success: number }>();
  private readonly httpCounts = new Map<string, number>();

  constructor(
    readonly options: ResolvedSimulatorOptions,
    private readonly clock: Clock,
  ) {
    this.scheduler = new PreciseScheduler(clock);
    for (const m of options.models) this.perModel.set(m, { promptTokens: 0, generationTokens: 0, success: 0 });
    this.server = http.createServer((req, res) => this.onRequest(req, res));
    // uvicorn's default keep-alive; headersTimeout must exceed it so an idle keep-alive socket is
    // closed by the keep-alive timer, not misreported as a slow request.
    this.server.keepAliveTimeout = 5000;
    this.server.headersTimeout = 10_000;
  }

  /** Starts listening; resolves with the bound port. */
  async listen(): Promise<number> {
    if (this.options.groundTruthFile !== undefined) {
      // Opened synchronously so a bad path fails startSimulator, not a write much later.
      mkdirSync(dirname(this.options.groundTruthFile), { recursive: true });
      const fd = openSync(this.options.groundTruthFile, 'a');
      this.groundTruthStream = createWriteStream('', { fd });
      this.groundTruthStream.on('error', (err) => (this.groundTruthError ??= err));
    }
    try {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(this.options.port, this.options.host, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      this.groundTruthStream?.destroy();
      throw err;
    }
    return (this.server.address() as AddressInfo).port;
  }

  /** Copies of every entry so far, in arrival order (in-flight ones have `doneAt: null`). */
  groundTruth(): GroundTruthEntry[] {
    return this.tracked.map(({ entry }) => ({ ...entry, contentWrites: [...entry.contentWrites] }));
  }

  /** Stops timers, destroys open sockets (stalled streams included), flushes the ground-truth file. */
  close(): Promise<void> {
    this.closePromise ??= this.shutdown();
    return this.closePromise;
  }

  private async shutdown(): Promise<void> {
    this.scheduler.clear();
    this.queue.length = 0;
    for (const gen of this.live) {
      gen.closed = true;
      this.finalize(gen.tracked);
    }
    this.live.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
    for (const t of this.tracked) this.finalize(t);
    const stream = this.groundTruthStream;
    if (stream) await new Promise<void>((resolve) => stream.end(() => resolve()));
    if (this.groundTruthError) {
      throw new Error(`simulator: could not write the ground-truth file ${this.options.groundTruthFile}: ${this.groundTruthError.message}`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Routing

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const receivedAt = this.clock();
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method ?? 'GET';
    res.on('error', () => undefined);
    res.on('finish', () => this.countHttp(path, method, res.statusCode));
    this.route(req, res, path, method, receivedAt).catch((err: unknown) => {
      if (!res.headersSent) this.sendJson(res, 500, errorBody(`Internal simulator error: ${String(err)}`, 500));
      else res.destroy();
    });
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse, path: string, method: string, receivedAt: number): Promise<void> {
    const routes: Record<string, string> = {
      '/health': 'GET',
      '/metrics': 'GET',
      '/v1/models': 'GET',
      '/v1/completions': 'POST',
      '/v1/chat/completions': 'POST',
      '/tokenize': 'POST',
      '/detokenize': 'POST',
    };
    const allowed = routes[path];
    if (method === 'POST' && path === '/v1/completions') return this.handleGeneration('completions', req, res, receivedAt);
    if (method === 'POST' && path === '/v1/chat/completions') return this.handleGeneration('chat', req, res, receivedAt);
    // vLLM's auth middleware runs before routing: any /v1* path, known or not.
    if (path.startsWith('/v1') && method !== 'OPTIONS' && !this.authorized(req)) {
      return this.sendJson(res, 401, JSON.stringify({ error: 'Unauthorized' }));
    }
    if (allowed === undefined) return this.sendJson(res, 404, JSON.stringify({ detail: 'Not Found' }));
    if (allowed !== method) return this.sendJson(res, 405, JSON.stringify({ detail: 'Method Not Allowed' }));
    switch (path) {
      case '/health':
        res.writeHead(200, { 'content-length': 0 });
        res.end();
        return;
      case '/metrics':
        return this.send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', this.metricsText());
      case '/v1/models':
        return this.sendJson(res, 200, JSON.stringify(this.modelList()));
      case '/tokenize':
        return this.handleTokenize(req, res);
      default:
        return this.handleDetokenize(req, res);
    }
  }

  /** vLLM's `--api-key` middleware: only `/v1*` paths, exact `Bearer <key>` match. */
  private authorized(req: http.IncomingMessage): boolean {
    const key = this.options.apiKey;
    return key === undefined || req.headers.authorization === `Bearer ${key}`;
  }

  private async readJson(req: http.IncomingMessage): Promise<unknown> {
    const mediaType = (req.headers['content-type'] ?? '').toLowerCase().split(';')[0]!.trim();
    if (mediaType !== 'application/json') {
      throw new RequestError(400, "Unsupported Media Type: Only 'application/json' is allowed");
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBodyBytes) throw new RequestError(413, `Request body larger than ${maxBodyBytes} bytes`);
      chunks.push(chunk);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    } catch (err) {
      throw new RequestError(400, `JSON decode error: ${(err as Error).message}`);
    }
  }

  private resolveModel(requested: string | null | undefined): string {
    const model = requested ?? this.options.models[0]!;
    if (!this.options.models.includes(model)) throw new RequestError(404, `The model \`${model}\` does not exist.`);
    return model;
  }

  // -------------------------------------------------------------------------------------------
  // Generation endpoints

  private async handleGeneration(endpoint: Endpoint, req: http.IncomingMessage, res: http.ServerResponse, receivedAt: number): Promise<void> {
    const header = req.headers['x-request-id'];
    const requestId = typeof header === 'string' && header.length > 0 ? header : randomUUID().replaceAll('-', '');
    const tracked: Tracked = {
      entry: {
        requestId,
        endpoint,
        model: '',
        stream: false,
        receivedAt,
        startedAt: receivedAt,
        status: 0,
        promptTokens: 0,
        completionTokens: 0,
        contentWrites: [],
        doneAt: null,
        failure: null,
      },
      finalized: false,
    };
    this.tracked.push(tracked);
    const { entry } = tracked;

    const reject = (status: number, body: string): void => {
      if (res.destroyed) {
        this.finalize(tracked);
        return;
      }
      this.sendJson(res, status, body);
      entry.status = status;
      entry.doneAt = this.clock();
      this.finalize(tracked);
    };

    if (!this.authorized(req)) return reject(401, JSON.stringify({ error: 'Unauthorized' }));

    let gen: Generation;
    try {
      gen = this.accept(endpoint, await this.readJson(req), tracked, res, requestId);
    } catch (err) {
      if (err instanceof RequestError) return reject(err.status, errorBody(err.message, err.status));
      // The client went away while we read the body.
      if (res.destroyed || req.destroyed) return this.finalize(tracked);
      throw err;
    }

    if (gen.failure === 'status') {
      const status = this.options.errorStatus;
      return reject(status, errorBody(`Simulated failure: the simulator injected HTTP ${status} (errorRate ${this.options.errorRate}).`, status));
    }

    this.live.add(gen);
    res.on('close', () => this.onResponseClose(gen));
    if (gen.stream) {
      // Like uvicorn, the status line and headers go out as soon as the response starts; any queueing
      // and the prefill happen after, inside TTFT.
      res.writeHead(200, { 'content-type': sseContentType });
      res.flushHeaders();
      entry.status = 200;
    }
    const max = this.options.maxConcurrency;
    if (max === null || this.running < max) this.start(gen);
    else this.queue.push(gen);
  }

  /** Validates the body (throws RequestError with vLLM's status and message) and builds the generation. */
  private accept(endpoint: Endpoint, raw: unknown, tracked: Tracked, res: http.ServerResponse, requestId: string): Generation {
    const body = endpoint === 'chat' ? ChatBody.safeParse(raw) : CompletionBody.safeParse(raw);
    if (!body.success) throw new RequestError(400, formatIssues(body.error));
    const b = body.data;
    if (b.stream_options !== undefined && b.stream_options !== null && b.stream !== true) {
      throw new RequestError(400, 'Stream options can only be defined when `stream=True`.');
    }
    if (b.n !== undefined && b.n !== null && b.n !== 1) throw new RequestError(400, `n=${b.n} is not supported by the simulator; it serves n=1 only.`);
    tracked.entry.model = b.model ?? this.options.models[0]!;
    tracked.entry.stream = b.stream === true;
    const model = this.resolveModel(b.model);

    let promptTokens: number;
    let maxTokens: number | null | undefined;
    if (endpoint === 'chat') {
      const chat = b as z.infer<typeof ChatBody>;
      promptTokens = chatPromptTokens(chat.messages);
      maxTokens = chat.max_completion_tokens ?? chat.max_tokens;
    } else {
      promptTokens = this.completionPromptTokens((b as z.infer<typeof CompletionBody>).prompt);
      maxTokens = b.max_tokens ?? 16;
    }
    tracked.entry.promptTokens = promptTokens;
    const maxLen = this.options.maxModelLen;
    if (promptTokens >= maxLen) {
      throw new RequestError(
        400,
        `This model's maximum context length is ${maxLen} tokens. However, your request has ${promptTokens} input tokens. Please reduce the length of the input messages.`,
      );
    }
    // vLLM's chat default: whatever the context has left.
    maxTokens ??= maxLen - promptTokens;
    if (maxTokens < 1) throw new RequestError(400, `max_tokens must be at least 1, got ${maxTokens}.`);
    if (promptTokens + maxTokens > maxLen) {
      throw new RequestError(
        400,
        `'max_tokens' or 'max_completion_tokens' is too large: ${maxTokens}. This model's maximum context length is ${maxLen} tokens and your request has ${promptTokens} input tokens (${maxTokens} > ${maxLen} - ${promptTokens}).`,
      );
    }

    const rng = requestRng(this.options.seed, this.sequence++);
    const failure = drawFailure(this.options.errorRate, this.options.failureModes, rng);
    tracked.entry.failure = failure;
    const so = b.stream_options;
    const includeUsage = so !== undefined && so !== null ? so.include_usage === undefined || so.include_usage === true : false;
    return {
      tracked,
      res,
      endpoint,
      id: `${endpoint === 'chat' ? 'chatcmpl' : 'cmpl'}-${requestId}`,
      created: Math.floor(this.clock() / 1000),
      model,
      stream: b.stream === true,
      includeUsage,
      continuousUsage: includeUsage && so?.continuous_usage_stats === true,
      promptTokens,
      maxTokens,
      failure,
      rng,
      chunks: [],
      tokenOffsetsMs: [],
      words: [],
      failAt: failure === null || failure === 'status' ? Infinity : failurePointTokens(this.options.abortAfterTokens, maxTokens, this.options.tokensPerChunk),
      tokensWritten: 0,
      started: false,
      released: false,
      closed: false,
    };
  }

  private completionPromptTokens(prompt: z.infer<typeof CompletionBody>['prompt']): number {
    if (typeof prompt === 'string') return countWords(prompt) || this.emptyPrompt();
    if (prompt.length === 0) return this.emptyPrompt();
    const first = prompt[0]!;
    if (typeof first === 'number') return prompt.length;
    if (prompt.length > 1) {
      throw new RequestError(400, `A batch of ${prompt.length} prompts is not supported by the simulator; send one prompt per request.`);
    }
    const n = typeof first === 'string' ? countWords(first) : first.length;
    return n || this.emptyPrompt();
  }

  private emptyPrompt(): never {
    throw new RequestError(400, 'The decoder prompt cannot be empty');
  }

  /**
   * Begins generating. The latency model counts from the request's arrival (as a user's TTFT does:
   * reading and parsing the body is part of it), or from leaving the queue when it waited.
   */
  private start(gen: Generation, fromQueue = false): void {
    if (gen.closed) return;
    gen.started = true;
    this.running++;
    const { entry } = gen.tracked;
    entry.startedAt = fromQueue ? this.clock() : entry.receivedAt;
    this.countersOf(gen).promptTokens += gen.promptTokens;
    const plan = planGeneration(this.options, gen.promptTokens, gen.maxTokens, gen.rng);
    gen.chunks = plan.chunks;
    gen.tokenOffsetsMs = plan.tokenOffsetsMs;
    const v = this.tokenizer.vocabularySize;
    gen.words = Array.from({ length: gen.maxTokens }, () => this.tokenizer.word(Math.floor(gen.rng() * v)));

    if (gen.stream) {
      this.scheduler.at(entry.startedAt + gen.chunks[0]!.offsetMs, () => this.guard(gen, () => this.writeChunk(gen, 0)));
      return;
    }
    if (gen.failAt !== Infinity) {
      const at = gen.tokenOffsetsMs[Math.max(0, gen.failAt - 1)]!;
      this.scheduler.at(entry.startedAt + at, () => this.guard(gen, () => this.failNonStream(gen)));
    } else {
      this.scheduler.at(entry.startedAt + gen.tokenOffsetsMs[gen.maxTokens - 1]!, () => this.guard(gen, () => this.respondNonStream(gen)));
    }
  }

  /** Scheduler callbacks must never throw (one throwing callback would stop the shared timer loop). */
  private guard(gen: Generation, fn: () => void): void {
    if (gen.closed) return;
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
    const text = gen.words
      .slice(chunk.firstToken, chunk.firstToken + chunk.tokens)
      .map((w) => ` ${w}`)
      .join('');
    const completionSoFar = gen.tokensWritten + chunk.tokens;
    let data = '';
    if (gen.endpoint === 'chat') {
      if (index === 0) data += sse(this.chatRoleChunk(gen));
      data += sse(this.chatContentChunk(gen, text, last, completionSoFar));
    } else {
      data += sse(this.completionChunk(gen, text, last, completionSoFar));
    }
    // Node corks the socket until the next tick after a chunked write, so an abort right now would
    // drop this chunk: destroy from the write's callback, once the chunk has been handed to the kernel.
    const abortsAfter = gen.failure === 'abort' && completionSoFar >= gen.failAt;
    gen.res.write(data, abortsAfter ? () => this.abortStream(gen) : undefined);
    const { entry } = gen.tracked;
    entry.contentWrites.push(this.clock());
    gen.tokensWritten = completionSoFar;
    entry.completionTokens = completionSoFar;
    this.countersOf(gen).generationTokens += chunk.tokens;

    if (abortsAfter) {
      gen.closed = true;
      return;
    }
    if (gen.tokensWritten >= gen.failAt) return this.failStream(gen);
    if (last) return this.finishStream(gen);
    const next = gen.chunks[index + 1]!;
    this.scheduler.at(entry.startedAt + next.offsetMs, () => this.guard(gen, () => this.writeChunk(gen, index + 1)));
  }

  private finishStream(gen: Generation): void {
    const { res } = gen;
    if (gen.includeUsage) res.write(sse(this.usageChunk(gen)));
    res.write('data: [DONE]\n\n');
    res.end();
    this.countersOf(gen).success++;
    this.done(gen);
  }

  private failStream(gen: Generation): void {
    const { res } = gen;
    switch (gen.failure) {
      case 'abort': // only when it strikes before the first token (abortAfterTokens 0)
        gen.closed = true;
        this.abortStream(gen);
        return;
      case 'in-band':
        res.write(sse(pythonJsonDumps({ error: { message: 'Simulated failure: the simulator injected an error during generation.', type: 'InternalServerError', param: null, code: 500 } })));
        res.write('data: [DONE]\n\n');
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
    if (this.closePromise) return;
    try {
      gen.res.socket?.destroy();
    } finally {
      this.done(gen);
    }
  }

  private respondNonStream(gen: Generation): void {
    const text = gen.words.map((w) => ` ${w}`).join('');
    const body = JSON.stringify(gen.endpoint === 'chat' ? this.chatResponse(gen, text) : this.completionResponse(gen, text));
    this.sendJson(gen.res, 200, body);
    const { entry } = gen.tracked;
    entry.status = 200;
    entry.contentWrites.push(this.clock());
    entry.completionTokens = gen.maxTokens;
    this.countersOf(gen).generationTokens += gen.maxTokens;
    this.countersOf(gen).success++;
    this.done(gen);
  }

  /** Non-streamed failure: nothing was sent yet, so abort/stall close the connection with no response. */
  private failNonStream(gen: Generation): void {
    const { res } = gen;
    switch (gen.failure) {
      case 'in-band':
        // vLLM turns an engine error in a non-streamed request into a 500 error response.
        this.sendJson(res, 500, errorBody('Simulated failure: the simulator injected an error during generation.', 500));
        gen.tracked.entry.status = 500;
        this.done(gen);
        return;
      case 'abort':
        gen.closed = true;
        res.socket?.destroy();
        this.done(gen);
        return;
      default:
        this.scheduler.at(this.clock() + this.options.stallMs, () =>
          this.guard(gen, () => {
            gen.closed = true;
            res.socket?.destroy();
            this.done(gen);
          }),
        );
    }
  }

  /** The response is over from the server's side: stamp doneAt, free the slot, record. */
  private done(gen: Generation): void {
    gen.tracked.entry.doneAt = this.clock();
    gen.closed = true;
    this.closeGeneration(gen);
  }

  /** The response closed; if we had not finished it, the client disconnected: stop generating it. */
  private onResponseClose(gen: Generation): void {
    if (gen.closed) return;
    gen.closed = true;
    gen.tracked.entry.doneAt = null;
    const i = this.queue.indexOf(gen);
    if (i >= 0) this.queue.splice(i, 1);
    this.closeGeneration(gen);
  }

  private closeGeneration(gen: Generation): void {
    this.live.delete(gen);
    if (gen.started && !gen.released) {
      gen.released = true;
      this.running--;
    }
    this.finalize(gen.tracked);
    this.pump();
  }

  private countersOf(gen: Generation): { promptTokens: number; generationTokens: number; success: number } {
    return this.perModel.get(gen.model)!;
  }

  private pump(): void {
    const max = this.options.maxConcurrency;
    while (this.queue.length > 0 && (max === null || this.running < max)) this.start(this.queue.shift()!, true);
  }

  private finalize(t: Tracked): void {
    if (t.finalized) return;
    t.finalized = true;
    const stream = this.groundTruthStream;
    if (stream && !stream.writableEnded) stream.write(`${JSON.stringify(t.entry)}\n`);
  }

  // -------------------------------------------------------------------------------------------
  // Wire objects, field order as vLLM's pydantic models dump them (0.10.2–0.11.x).

  private usage(gen: Generation, completionTokens: number): { prompt_tokens: number; total_tokens: number; completion_tokens: number } {
    return { prompt_tokens: gen.promptTokens, total_tokens: gen.promptTokens + completionTokens, completion_tokens: completionTokens };
  }

  /** `exclude_unset=False`: every field present, `usage: null` unless continuous usage stats. */
  private completionChunk(gen: Generation, text: string, last: boolean, completionSoFar: number): unknown {
    return {
      id: gen.id,
      object: 'text_completion',
      created: gen.created,
      model: gen.model,
      choices: [
        { index: 0, text, logprobs: null, finish_reason: last ? 'length' : null, stop_reason: null, prompt_token_ids: null, token_ids: null },
      ],
      usage: gen.continuousUsage ? { ...this.usage(gen, completionSoFar), prompt_tokens_details: null } : null,
    };
  }

  /** `exclude_unset=True`: the role chunk sets prompt_token_ids (null) explicitly, so it is dumped. */
  private chatRoleChunk(gen: Generation): unknown {
    return {
      id: gen.id,
      object: 'chat.completion.chunk',
      created: gen.created,
      model: gen.model,
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
      ...(gen.continuousUsage ? { usage: this.usage(gen, 0) } : {}),
      prompt_token_ids: null,
    };
  }

  /** The last token's chunk is also the finish chunk: it adds finish_reason and stop_reason. */
  private chatContentChunk(gen: Generation, content: string, last: boolean, completionSoFar: number): unknown {
    const choice = last
      ? { index: 0, delta: { content }, logprobs: null, finish_reason: 'length', stop_reason: null, token_ids: null }
      : { index: 0, delta: { content }, logprobs: null, finish_reason: null, token_ids: null };
    return {
      id: gen.id,
      object: 'chat.completion.chunk',
      created: gen.created,
      model: gen.model,
      choices: [choice],
      ...(gen.continuousUsage ? { usage: this.usage(gen, completionSoFar) } : {}),
    };
  }

  /** The usage-only chunk (`exclude_none=True`): `choices: []`. */
  private usageChunk(gen: Generation): unknown {
    return {
      id: gen.id,
      object: gen.endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion',
      created: gen.created,
      model: gen.model,
      choices: [],
      usage: this.usage(gen, gen.tokensWritten),
    };
  }

  private completionResponse(gen: Generation, text: string): unknown {
    return {
      id: gen.id,
      object: 'text_completion',
      created: gen.created,
      model: gen.model,
      choices: [
        { index: 0, text, logprobs: null, finish_reason: 'length', stop_reason: null, token_ids: null, prompt_logprobs: null, prompt_token_ids: null },
      ],
      service_tier: null,
      system_fingerprint: null,
      usage: { ...this.usage(gen, gen.maxTokens), prompt_tokens_details: null },
      kv_transfer_params: null,
    };
  }

  private chatResponse(gen: Generation, content: string): unknown {
    return {
      id: gen.id,
      object: 'chat.completion',
      created: gen.created,
      model: gen.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content, refusal: null, annotations: null, audio: null, function_call: null, tool_calls: [], reasoning_content: null },
          logprobs: null,
          finish_reason: 'length',
          stop_reason: null,
          token_ids: null,
        },
      ],
      service_tier: null,
      system_fingerprint: null,
      usage: { ...this.usage(gen, gen.maxTokens), prompt_tokens_details: null },
      prompt_logprobs: null,
      prompt_token_ids: null,
      kv_transfer_params: null,
    };
  }

  private modelList(): unknown {
    const created = Math.floor(this.clock() / 1000);
    return {
      object: 'list',
      data: this.options.models.map((id) => ({
        id,
        object: 'model',
        created,
        owned_by: 'vllm',
        root: id,
        parent: null,
        max_model_len: this.options.maxModelLen,
        permission: [
          {
            id: `modelperm-${randomUUID().replaceAll('-', '')}`,
            object: 'model_permission',
            created,
            allow_create_engine: false,
            allow_sampling: true,
            allow_logprobs: true,
            allow_search_indices: false,
            allow_view: true,
            allow_fine_tuning: false,
            organization: '*',
            group: null,
            is_blocking: false,
          },
        ],
      })),
    };
  }

  // -------------------------------------------------------------------------------------------
  // /tokenize, /detokenize, /metrics

  private async handleTokenize(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    await this.answer(res, async () => {
      const body = TokenizeBody.safeParse(await this.readJson(req));
      if (!body.success) throw new RequestError(400, formatIssues(body.error));
      this.resolveModel(body.data.model);
      const { messages, prompt } = body.data;
      const tokens = messages !== undefined ? this.tokenizer.encodeChat(messages) : this.tokenizer.encode(prompt ?? '');
      return {
        count: tokens.length,
        max_model_len: this.options.maxModelLen,
        tokens,
        token_strs: body.data.return_token_strs === true ? this.tokenizer.tokenStrings(tokens) : null,
      };
    });
  }

  private async handleDetokenize(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    await this.answer(res, async () => {
      const body = DetokenizeBody.safeParse(await this.readJson(req));
      if (!body.success) throw new RequestError(400, formatIssues(body.error));
      this.resolveModel(body.data.model);
      try {
        return { prompt: this.tokenizer.decode(body.data.tokens) };
      } catch (err) {
        if (err instanceof UnknownTokenError) throw new RequestError(400, err.message);
        throw err;
      }
    });
  }

  private async answer(res: http.ServerResponse, produce: () => Promise<unknown>): Promise<void> {
    try {
      this.sendJson(res, 200, JSON.stringify(await produce()));
    } catch (err) {
      if (!(err instanceof RequestError)) throw err;
      this.sendJson(res, err.status, errorBody(err.message, err.status));
    }
  }

  /** A small Prometheus text exposition with vLLM's names (hand-written; values as floats like prometheus_client). */
  private metricsText(): string {
    const f = (n: number): string => (Number.isInteger(n) ? `${n}.0` : String(n));
    const lines: string[] = [];
    const family = (name: string, type: string, help: string, samples: Array<[string, number]>): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) lines.push(`${type === 'counter' ? `${name}_total` : name}${labels} ${f(value)}`);
    };
    const perModel = (count: (model: string) => number): Array<[string, number]> =>
      this.options.models.map((m) => [`{model_name="${m}"}`, count(m)]);
    const liveOf = (m: string, started: boolean): number => [...this.live].filter((g) => g.model === m && g.started === started).length;
    family('vllm:num_requests_running', 'gauge', 'Number of requests in model execution batches.', perModel((m) => liveOf(m, true)));
    family('vllm:num_requests_waiting', 'gauge', 'Number of requests waiting to be processed.', perModel((m) => liveOf(m, false)));
    const counter = (m: string): { promptTokens: number; generationTokens: number; success: number } => this.perModel.get(m)!;
    family('vllm:prompt_tokens', 'counter', 'Number of prefill tokens processed.', perModel((m) => counter(m).promptTokens));
    family('vllm:generation_tokens', 'counter', 'Number of generation tokens processed.', perModel((m) => counter(m).generationTokens));
    family(
      'vllm:request_success',
      'counter',
      'Count of successfully processed requests.',
      this.options.models.map((m): [string, number] => [`{finished_reason="length",model_name="${m}"}`, counter(m).success]),
    );
    family('http_requests', 'counter', 'Total number of requests by method, status and handler.', [...this.httpCounts.entries()]);
    return `${lines.join('\n')}\n`;
  }

  private countHttp(path: string, method: string, status: number): void {
    const known = ['/health', '/metrics', '/v1/models', '/v1/completions', '/v1/chat/completions', '/tokenize', '/detokenize'];
    const handler = known.includes(path) ? path : 'none';
    const labels = `{handler="${handler}",method="${method}",status="${Math.floor(status / 100)}xx"}`;
    this.httpCounts.set(labels, (this.httpCounts.get(labels) ?? 0) + 1);
  }

  private sendJson(res: http.ServerResponse, status: number, body: string): void {
    this.send(res, status, 'application/json', body);
  }

  private send(res: http.ServerResponse, status: number, contentType: string, body: string): void {
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}
