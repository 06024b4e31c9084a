import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import { basename } from 'node:path';
import type { AddressInfo } from 'node:net';
import { InputError } from '../core/errors.ts';
import type { Clock } from '../timing/clock.ts';
import { PreciseScheduler } from '../timing/precise-timer.ts';
import { dialectOf, type Dialect } from './dialects/index.ts';
import { Generations, send, sendJson, sendReply } from './generation.ts';
import { GroundTruthLog, type GroundTruthEntry, type Tracked } from './ground-truth.ts';
import { drawFailure, failurePointTokens, requestRng } from './latency-model.ts';
import type { ResolvedSimulatorOptions } from './options.ts';
import { blockHashes } from './prefix-cache.ts';
import { httpLabels, newModelStats, prometheusText, type ModelStats } from './prometheus.ts';
import { promptTokenizer, type PromptTokenizer } from './prompt-tokenizer.ts';
import { DetokenizeBody, outputLength, parseBody, parseGenerationRequest, RequestError, resolveModel, TokenizeBody } from './requests.ts';
import { UnknownTokenError, WordTokenizer } from './tokenizer.ts';
import { errorBody, modelList } from './wire.ts';

const maxBodyBytes = 64 * 1024 * 1024;

/** Paths the simulator serves, with their method. */
const routes: Record<string, string> = {
  '/health': 'GET',
  '/metrics': 'GET',
  '/version': 'GET',
  '/v1/models': 'GET',
  '/v1/completions': 'POST',
  '/v1/chat/completions': 'POST',
  '/tokenize': 'POST',
  '/detokenize': 'POST',
};

/** Dialects whose server has a Prometheus `/metrics` (the simulator's metric names are vLLM's). */
const prometheusDialects = new Set(['vllm', 'sglang', 'tgi', 'llamacpp']);

/**
 * The vLLM-compatible HTTP server: routing, request bodies, and the answers that need no
 * generation; with another `dialect`, that server's endpoints and bytes (dialects/). One instance
 * owns its scheduler, tokenizers, generations and ground truth; nothing is process-wide (except
 * the Qwen3 tokenizer's data, loaded once).
 */
export class SimulatorServer {
  readonly server: http.Server;
  /** Counts and encodes prompts (usage, `/tokenize`, prefill). */
  private readonly tokenizer: PromptTokenizer;
  /** The vocabulary generated text is drawn from. */
  private readonly output = new WordTokenizer();
  private readonly dialect: Dialect;
  private readonly log: GroundTruthLog;
  private readonly generations: Generations;
  private readonly scheduler: PreciseScheduler;
  private sequence = 0;
  private closePromise: Promise<void> | undefined;
  /** Per served model: what `/metrics` reports (this process's engine only; each `--workers` worker has its own). */
  private readonly stats = new Map<string, ModelStats>();
  private readonly httpCounts = new Map<string, number>();

  constructor(
    readonly options: ResolvedSimulatorOptions,
    private readonly clock: Clock,
  ) {
    this.tokenizer = promptTokenizer(options.tokenizer);
    this.dialect = dialectOf(options.dialect);
    this.scheduler = new PreciseScheduler(clock);
    for (const m of options.models) this.stats.set(m, newModelStats());
    this.log = new GroundTruthLog(options.groundTruthFile, options.keepGroundTruth);
    this.generations = new Generations(options, clock, this.scheduler, this.output, this.log, this.stats);
    this.server = http.createServer((req, res) => this.onRequest(req, res));
    // uvicorn's default keep-alive; headersTimeout must exceed it so an idle keep-alive socket is
    // closed by the keep-alive timer, not misreported as a slow request.
    this.server.keepAliveTimeout = 5000;
    this.server.headersTimeout = 10_000;
  }

  /**
   * Opens the ground-truth file, then listens; resolves with the bound port. A file that cannot be
   * written, or an address this machine cannot listen on, is the user's to fix (an InputError).
   */
  async listen(): Promise<number> {
    this.log.openFile();
    try {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(this.options.port, this.options.host, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      this.log.destroy();
      throw listenError(err, this.options.host, this.options.port) ?? err;
    }
    return (this.server.address() as AddressInfo).port;
  }

  /** Copies of every entry so far, in arrival order (in-flight ones have `doneAt: null`). */
  groundTruth(): GroundTruthEntry[] {
    return this.log.entries();
  }

  /** Ground-truth entries held in memory (the open ones, unless everything is kept). */
  get retainedGroundTruth(): number {
    return this.log.retained;
  }

  /** Stops timers, destroys open sockets (stalled streams included), flushes the ground-truth file. */
  close(): Promise<void> {
    this.closePromise ??= this.shutdown();
    return this.closePromise;
  }

  private async shutdown(): Promise<void> {
    this.scheduler.clear();
    this.generations.shutdown();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
    await this.log.close();
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const receivedAt = this.clock();
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method ?? 'GET';
    res.on('error', () => undefined);
    for (const [k, v] of Object.entries(this.dialect.headers)) res.setHeader(k, v);
    res.on('finish', () => {
      const labels = httpLabels(path, method, res.statusCode);
      this.httpCounts.set(labels, (this.httpCounts.get(labels) ?? 0) + 1);
    });
    const routed = this.dialect.name === 'vllm' ? this.route(req, res, path, method, receivedAt) : this.routeDialect(req, res, path, method, receivedAt);
    routed.catch((err: unknown) => {
      if (!res.headersSent) sendReply(res, this.dialect.error(`Internal simulator error: ${String(err)}`, 500));
      else res.destroy();
    });
  }

  /** Another server's endpoints: generation as everywhere, the rest from its dialect module. */
  private async routeDialect(req: http.IncomingMessage, res: http.ServerResponse, path: string, method: string, receivedAt: number): Promise<void> {
    if (method === 'POST' && path === '/v1/completions') return this.handleGeneration('completions', req, res, receivedAt);
    if (method === 'POST' && path === '/v1/chat/completions') return this.handleGeneration('chat', req, res, receivedAt);
    if (method === 'GET' && path === '/metrics' && prometheusDialects.has(this.dialect.name)) return send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', this.metricsText());
    const handler = this.dialect.route(method, path);
    if (handler === undefined) return sendReply(res, this.dialect.notFound());
    try {
      sendReply(res, await handler({ options: this.options, tokenizer: this.tokenizer, now: () => Date.now(), readJson: () => this.readJson(req) }));
    } catch (err) {
      if (!(err instanceof RequestError)) throw err;
      sendReply(res, this.dialect.error(err.message, err.status));
    }
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse, path: string, method: string, receivedAt: number): Promise<void> {
    if (method === 'POST' && path === '/v1/completions') return this.handleGeneration('completions', req, res, receivedAt);
    if (method === 'POST' && path === '/v1/chat/completions') return this.handleGeneration('chat', req, res, receivedAt);
    // vLLM's auth middleware runs before routing: any /v1* path, known or not.
    if (path.startsWith('/v1') && method !== 'OPTIONS' && !this.authorized(req)) return sendJson(res, 401, JSON.stringify({ error: 'Unauthorized' }));
    const allowed = routes[path];
    if (allowed === undefined) return sendJson(res, 404, JSON.stringify({ detail: 'Not Found' }));
    if (allowed !== method) return sendJson(res, 405, JSON.stringify({ detail: 'Method Not Allowed' }));
    switch (path) {
      case '/health':
        res.writeHead(200, { 'content-length': 0 });
        res.end();
        return;
      case '/metrics':
        return send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', this.metricsText());
      case '/version':
        return sendJson(res, 200, JSON.stringify({ version: this.options.version, settings: behaviourSettings(this.options) }));
      case '/v1/models':
        return sendJson(res, 200, JSON.stringify(modelList(this.options.models, Math.floor(this.clock() / 1000), this.options.maxModelLen, () => randomUUID().replaceAll('-', ''))));
      case '/tokenize':
        return this.answer(res, async () => {
          const body = parseBody(TokenizeBody, await this.readJson(req));
          resolveModel(body.model, this.options);
          const tokens = body.messages !== undefined ? this.tokenizer.encodeChat(body.messages) : this.tokenizer.encode(body.prompt ?? '');
          return { count: tokens.length, max_model_len: this.options.maxModelLen, tokens, token_strs: body.return_token_strs === true ? this.tokenizer.tokenStrings(tokens) : null };
        });
      default:
        return this.answer(res, async () => {
          const body = parseBody(DetokenizeBody, await this.readJson(req));
          resolveModel(body.model, this.options);
          try {
            return { prompt: this.tokenizer.decode(body.tokens) };
          } catch (err) {
            if (err instanceof UnknownTokenError) throw new RequestError(400, err.message);
            throw err;
          }
        });
    }
  }

  /** vLLM's `--api-key` middleware: only `/v1*` paths, exact `Bearer <key>` match. */
  private authorized(req: http.IncomingMessage): boolean {
    const key = this.options.apiKey;
    return key === undefined || req.headers.authorization === `Bearer ${key}`;
  }

  private async readJson(req: http.IncomingMessage): Promise<unknown> {
    const mediaType = (req.headers['content-type'] ?? '').toLowerCase().split(';')[0]!.trim();
    if (mediaType !== 'application/json') throw new RequestError(400, "Unsupported Media Type: Only 'application/json' is allowed");
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

  private async answer(res: http.ServerResponse, produce: () => Promise<unknown>): Promise<void> {
    try {
      sendJson(res, 200, JSON.stringify(await produce()));
    } catch (err) {
      if (!(err instanceof RequestError)) throw err;
      sendJson(res, err.status, errorBody(err.message, err.status));
    }
  }

  private async handleGeneration(endpoint: GroundTruthEntry['endpoint'], req: http.IncomingMessage, res: http.ServerResponse, receivedAt: number): Promise<void> {
    const header = req.headers['x-request-id'];
    const requestId = typeof header === 'string' && header.length > 0 ? header : randomUUID().replaceAll('-', '');
    const tracked = this.log.track({
      requestId,
      endpoint,
      model: '',
      stream: false,
      receivedAt,
      startedAt: receivedAt,
      cachedPromptTokens: 0,
      prefillMs: null,
      decodeMs: null,
      finishedAt: null,
      status: 0,
      promptTokens: 0,
      promptSha256: '',
      promptHead: '',
      completionTokens: 0,
      contentWrites: [],
      doneAt: null,
      failure: null,
    });
    const { entry } = tracked;
    const reject = (status: number, body: string, contentType: string | undefined = 'application/json'): void => {
      if (!res.destroyed) {
        sendReply(res, { status, contentType, body });
        entry.status = status;
        entry.doneAt = this.clock();
      }
      this.log.finalize(tracked);
    };
    if (!this.authorized(req)) return reject(401, JSON.stringify({ error: 'Unauthorized' }));
    const dialect = this.dialect;
    const refuse = (err: RequestError): void => {
      const r = dialect.error(err.message, err.status);
      reject(r.status, r.body, r.contentType);
    };

    let request;
    try {
      const raw = await this.readJson(req);
      const refused = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? dialect.refuse?.(raw as Record<string, unknown>, endpoint) : undefined;
      if (refused !== undefined) return reject(refused.status, refused.body, refused.contentType);
      request = parseGenerationRequest(endpoint, raw, this.options, { dialect, tokenizer: this.tokenizer }, (seen) => Object.assign(entry, seen));
      entry.promptSha256 = createHash('sha256').update(request.promptText).digest('hex').slice(0, 16);
      entry.promptHead = request.promptText.slice(0, 48);
    } catch (err) {
      if (err instanceof RequestError) return refuse(err);
      // The client went away while we read the body.
      if (res.destroyed || req.destroyed) return this.log.finalize(tracked);
      throw err;
    }
    const rng = requestRng(this.options.seed, this.sequence++);
    const failure = drawFailure(this.options.errorRate, this.options.failureModes, rng);
    entry.failure = failure;
    if (failure === 'status') {
      const status = this.options.errorStatus;
      return refuse(new RequestError(status, `Simulated failure: the simulator injected HTTP ${status} (errorRate ${this.options.errorRate}).`));
    }
    const { outputTokens, finish } = outputLength(request, dialect);
    if (request.stream) {
      // Like uvicorn, the status line and headers go out as soon as the response starts; any queueing
      // and the prefill happen after, inside TTFT.
      res.writeHead(200, { 'content-type': dialect.sseContentType });
      res.flushHeaders();
      entry.status = 200;
    }
    this.generations.admit({
      tracked: tracked as Tracked,
      res,
      wire: {
        endpoint,
        id: dialect.id(endpoint, requestId),
        created: Math.floor(this.clock() / 1000),
        model: request.model,
        promptTokens: request.promptTokens,
        continuousUsage: request.continuousUsage,
      },
      stream: request.stream,
      includeUsage: request.includeUsage,
      maxTokens: request.maxTokens,
      dialect,
      // The served model salts the chain: two served names share no blocks.
      blockHashes: this.options.prefixCacheBlocks > 0 ? blockHashes(request.promptTokenList, request.model) : [],
      outputTokens,
      finish,
      failure,
      rng,
      failAt: failure === null ? Infinity : failurePointTokens(this.options.abortAfterTokens, outputTokens, this.options.tokensPerChunk),
      state: 'queued',
      firstTokenAt: Infinity,
      firstTokenRecorded: false,
      chunks: [],
      tokenOffsetsMs: [],
      words: [],
      tokensWritten: 0,
    });
  }

  private metricsText(): string {
    this.generations.settleFirstTokens();
    return prometheusText({
      models: this.options.models,
      running: (m) => this.generations.count(m, 'generating'),
      waiting: (m) => this.generations.count(m, 'queued'),
      stats: (m) => this.stats.get(m)!,
      http: this.httpCounts,
    });
  }
}

/**
 * What shapes the simulator's latencies, as `/version` reports it beside the version: a run records
 * it (the run's context), so "TTFT rose 15 %" comes with "server setting ttftMs 40 → 46".
 */
export function behaviourSettings(o: ResolvedSimulatorOptions): Record<string, number | string | null> {
  return {
    ttftMs: o.ttftMs,
    ttftJitterMs: o.ttftJitterMs,
    prefillMsPerToken: o.prefillMsPerToken,
    itlMs: o.itlMs,
    jitterMs: o.jitterMs,
    tokensPerChunk: o.tokensPerChunk,
    prefixCacheBlocks: o.prefixCacheBlocks,
    maxConcurrency: o.maxConcurrency,
    maxModelLen: o.maxModelLen,
    errorRate: o.errorRate,
    // What counted the prompts (run.json keeps it): qwen3's real tokenizer for the seed model.
    tokenizer: o.tokenizer === 'words' || o.tokenizer === 'qwen3' ? o.tokenizer : `file ${basename(o.tokenizer)}`,
  };
}

const hostFix = 'pass an address of this machine: 127.0.0.1 (this machine only, the default), 0.0.0.0 (every interface), or one of its own interface addresses.';

/**
 * Why the simulator cannot listen on `host`:`port`, as one message naming the flag and the fix; undefined
 * for an error that is not about the address (a bug, thrown as it is). `--host` takes a name too, so
 * a bad one fails in the lookup (`getaddrinfo`), before any socket exists.
 */
export function listenError(err: unknown, host: string, port: number): InputError | undefined {
  const e = err as NodeJS.ErrnoException;
  const code = e?.code;
  if (code === undefined) return undefined;
  if (e.syscall === 'getaddrinfo' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_FAIL' || code === 'EAI_NONAME') {
    return new InputError(`--host ${host}`, [`"${host}" is neither an IP address nor a name this machine can resolve (${code})`], hostFix);
  }
  if (code === 'EADDRNOTAVAIL' || code === 'EINVAL') {
    return new InputError(`--host ${host}`, [`${host} is not an address this machine can listen on (${code})`], hostFix);
  }
  if (code === 'EADDRINUSE') {
    return new InputError(`--host ${host} --port ${port}`, [`${host}:${port} is already in use (${code})`], 'choose another --port (0 picks a free one) or stop what is listening there.');
  }
  if (code === 'EACCES' || code === 'EPERM') {
    const low = port > 0 && port < 1024;
    return new InputError(
      `--port ${port}`,
      [`this process may not listen on ${host}:${port} (${code}: ${low ? 'ports below 1024 need root or CAP_NET_BIND_SERVICE' : 'permission denied'})`],
      low ? 'choose a --port of 1024 or above (0 picks a free one).' : 'choose another --port (0 picks a free one), or ask what forbids this one here (a security policy).',
    );
  }
  return undefined;
}
