import { closeSync, createWriteStream, mkdirSync, openSync, statSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { InputError } from '../core/errors.ts';
import type { FailureMode } from './options.ts';

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
  /**
   * Prompt tokens served from the prefix cache when it was scheduled (whole 16-token blocks; what
   * `vllm:prefix_cache_hits` counted for it); 0 with no hit, caching off, or no generation.
   */
  cachedPromptTokens: number;
  /**
   * The prefill the latency model applied, ms: from `startedAt` to its first token (vLLM's
   * `request_prefill_time`; its TTFT less any queueing); shortened by a prefix-cache hit. Null when
   * generation never began.
   */
  prefillMs: number | null;
  /** From its first to its last output token as applied, ms (vLLM's `request_decode_time`); null when generation never began. */
  decodeMs: number | null;
  /**
   * When the server recorded it as finished — counted in `/metrics`' `vllm:request_success` and
   * observed in its e2e, queue, prefill and decode histograms, with e2e = `finishedAt − receivedAt`
   * and queue = `startedAt − receivedAt` — just before its last bytes were written. Null unless it
   * finished normally (a refusal, an injected failure or a disconnect is not counted). Its TTFT
   * (queue + `prefillMs`) was observed at its first token, as vLLM does: a request that failed or
   * was abandoned after its first token is in the TTFT histogram all the same.
   */
  finishedAt: number | null;
  /** HTTP status sent; 0 when the connection was closed before any status line. */
  status: number;
  promptTokens: number;
  /** sha256 of the prompt's text (first 16 hex digits), and its first 48 characters: which prompts a run sent (prefix-cache checks). */
  promptSha256: string;
  promptHead: string;
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

/** One request's entry while it is open. */
export interface Tracked {
  entry: GroundTruthEntry;
  finalized: boolean;
}

/**
 * The ground-truth log. Finished entries go to the NDJSON file (when there is one) and stay in
 * memory only with `keep` — a long `simulate` holds nothing but the requests in flight.
 */
export class GroundTruthLog {
  private readonly kept: Tracked[] = [];
  private readonly open = new Set<Tracked>();
  private stream: WriteStream | undefined;
  private error: Error | undefined;

  constructor(
    private readonly file: string | undefined,
    private readonly keep: boolean,
  ) {}

  /** Opens the file synchronously, so a bad path fails startSimulator, not a write much later. */
  openFile(): void {
    if (this.file === undefined) return;
    const fd = openGroundTruthFile(this.file);
    this.stream = createWriteStream('', { fd });
    this.stream.on('error', (err) => (this.error ??= err));
  }

  track(entry: GroundTruthEntry): Tracked {
    const t: Tracked = { entry, finalized: false };
    this.open.add(t);
    if (this.keep) this.kept.push(t);
    return t;
  }

  /** The request is over: its entry is written out and, unless kept, forgotten. */
  finalize(t: Tracked): void {
    if (t.finalized) return;
    t.finalized = true;
    this.open.delete(t);
    if (this.stream && !this.stream.writableEnded) this.stream.write(`${JSON.stringify(t.entry)}\n`);
  }

  /** Entries held in memory: the open ones, plus every finished one when kept. */
  get retained(): number {
    return this.keep ? this.kept.length : this.open.size;
  }

  /** Copies of every entry so far, in arrival order (in-flight ones have `doneAt: null`). */
  entries(): GroundTruthEntry[] {
    if (!this.keep) throw new Error('the simulator keeps no ground truth in memory (keepGroundTruth: false); read its groundTruthFile instead');
    return this.kept.map(({ entry }) => ({ ...entry, contentWrites: [...entry.contentWrites] }));
  }

  /** Finalizes whatever is still open and flushes the file. */
  async close(): Promise<void> {
    for (const t of [...this.open]) this.finalize(t);
    const stream = this.stream;
    if (stream) await new Promise<void>((resolve) => stream.end(() => resolve()));
    if (this.error) throw new Error(`simulator: could not write the ground-truth file ${this.file}: ${this.error.message}`);
  }

  destroy(): void {
    this.stream?.destroy();
  }
}

/**
 * Opens `file` for appending, creating its missing folders; a path that cannot be written is one
 * InputError naming `--ground-truth`. Called before the simulator serves: otherwise a bad path
 * surfaces as a stack trace at start, or — when writes fail later — only at shutdown.
 */
export function openGroundTruthFile(file: string): number {
  try {
    mkdirSync(dirname(file), { recursive: true });
    return openSync(file, 'a');
  } catch (err) {
    throw groundTruthFileError(file, err);
  }
}

/** Checks that `file` can be appended to (creating it, as the simulator would), and lets go of it. */
export function checkGroundTruthFile(file: string): void {
  closeSync(openGroundTruthFile(file));
}

function groundTruthFileError(file: string, err: unknown): InputError {
  const e = err as NodeJS.ErrnoException;
  // mkdir says EEXIST (or ENOTDIR, deeper down) when a folder of the path is a file: name that file.
  const notAFolder = `${fileOnPath(file) ?? 'a folder of its path'} is a file, not a folder`;
  const reasons: Record<string, string> = {
    EISDIR: 'it is a directory',
    ENOTDIR: notAFolder,
    EEXIST: notAFolder,
    EROFS: 'its file system is read-only',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    ENOSPC: 'no space left on the device',
    ENAMETOOLONG: 'the path is too long',
  };
  const why = (e?.code && reasons[e.code]) ?? e?.message ?? String(err);
  return new InputError(`--ground-truth ${file}`, [`cannot be written: ${why}${e?.code ? ` (${e.code})` : ''}`], 'pass a file in a folder this user can write (missing folders are created), or leave --ground-truth out.');
}

/** The nearest of `file`'s would-be parent folders that exists as something other than a folder. */
function fileOnPath(file: string): string | undefined {
  for (let p = dirname(file); p !== dirname(p); p = dirname(p)) {
    try {
      if (!statSync(p).isDirectory()) return p;
    } catch {
      // not there (yet): look further up
    }
  }
  return undefined;
}
