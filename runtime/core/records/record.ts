import { z } from 'zod';

/**
 * Why a request did not succeed. Kept small and stable: these names are published as CloudWatch
 * dimensions-free counters and appear in summaries.
 * - `connect`: no connection (refused, reset before a response, DNS).
 * - `http_status`: a non-2xx response before streaming started.
 * - `in_band`: a 200 stream that carried an `{"error": …}` event.
 * - `aborted`: the stream ended before `[DONE]` (connection closed mid-stream).
 * - `timeout`: no byte for longer than the request timeout (a stalled stream).
 * - `protocol`: a response that is not the OpenAI streaming format (bad JSON, wrong content type).
 * - `cancelled`: the run was interrupted and the grace period ran out.
 */
export const errorTypes = ['connect', 'http_status', 'in_band', 'aborted', 'timeout', 'protocol', 'cancelled'] as const;
export const ErrorType = z.enum(errorTypes);
export type ErrorType = z.infer<typeof ErrorType>;

const tokenCounts = z.object({
  /** What the scenario asked for (max_tokens / the calibrated prompt length). */
  requested: z.number().int().nonnegative(),
  /** Counted by the client: calibrated prompt tokens, or content-bearing events for output. */
  client: z.number().int().nonnegative().nullable(),
  /** The server's `usage` (prompt_tokens / completion_tokens), when it sent one. */
  server: z.number().int().nonnegative().nullable(),
});

/**
 * One request of the native runner, one JSON line in `requests/shard-<index>-<part>.ndjson.gz`.
 * Timestamps are epoch milliseconds (float, µs resolution) from one monotonic process clock.
 */
export const RequestRecord = z.object({
  v: z.literal(1),
  runId: z.string(),
  shard: z.number().int().nonnegative(),
  /** Position in the whole run's schedule (all shards), 0-based. */
  seq: z.number().int().nonnegative(),
  /** Index into `load.stages`. */
  stage: z.number().int().nonnegative(),
  /** When the schedule wanted it sent; null where the source does not record it (inference-perf). */
  scheduledAt: z.number().nullable(),
  /** null when the request was never sent (interrupted before its time). */
  sentAt: z.number().nullable(),
  /** First content-bearing event (text or tokens), null if none arrived. */
  firstTokenAt: z.number().nullable(),
  /** Last byte of the response received (or the failure time). */
  doneAt: z.number().nullable(),
  /** Arrival time of every content-bearing event, in order; the first equals firstTokenAt. */
  contentTimes: z.array(z.number()),
  inputTokens: tokenCounts,
  outputTokens: tokenCounts,
  status: z.number().int().nullable(),
  error: z.object({ type: ErrorType, message: z.string() }).nullable(),
  /**
   * The server's last `finish_reason` ("length": cut at max_tokens; "stop": EOS or a stop string);
   * null when it sent none, absent from records written before it was kept.
   */
  finishReason: z.string().nullable().optional(),
});
export type RequestRecord = z.infer<typeof RequestRecord>;
