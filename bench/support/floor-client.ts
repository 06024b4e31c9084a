import { connect, type Socket } from 'node:net';
import type { Clock } from '../../runtime/timing/clock.ts';
import { sleepUntil } from '../../runtime/timing/precise-timer.ts';

/**
 * The floor: the least a Node client can do to measure a streamed completion. Pre-connected raw
 * sockets, the request's bytes built before its deadline and written with one synchronous
 * `socket.write`, a timestamp on each `data` event and nothing else (no HTTP library, no SSE or JSON
 * parsing: a content event is counted by its `"text":"` key with a non-empty value, which is all the
 * simulator sends). Its error against the simulator's ground truth is what this machine allows any
 * client; the runner is judged against it, in the same run.
 */
export interface FloorRecord {
  requestId: string;
  scheduledAt: number;
  sentAt: number;
  contentTimes: number[];
  /** False when the connection closed before the response ended. */
  ok: boolean;
}

export interface FloorOptions {
  url: string;
  model: string;
  rate: number;
  durationS: number;
  prompt: (seq: number) => string;
  maxTokens: number;
  clock: Clock;
  /** Tells this client's requests (and prompts) apart from another run's of the same client against the same simulator. */
  slice?: number;
}

const TEXT_KEY = Buffer.from('"text":"');
const END = Buffer.from('0\r\n\r\n');

/** The floor's schedule and requests, shared with its undici twin: the n-th request, its time, id and body. */
export function* floorRequests(o: FloorOptions, idPrefix: string, promptOffset: number): Generator<{ scheduledAt: number; requestId: string; body: Buffer }> {
  const count = Math.round(o.rate * o.durationS);
  const start = o.clock() + 100;
  const slice = o.slice ?? 0;
  for (let seq = 0; seq < count; seq++) {
    const requestId = `${idPrefix}${slice}-${seq}`;
    // 100,000 prompts per slice: no slice repeats another's (the simulator's prefix cache would serve it).
    const body = Buffer.from(JSON.stringify({ model: o.model, prompt: o.prompt(seq + promptOffset + slice * 100_000), max_tokens: o.maxTokens, stream: true, ignore_eos: true }));
    yield { scheduledAt: start + (seq * 1000) / o.rate, requestId, body };
  }
}

/** Enough connections that a request never waits for one (e2e ≈ 1.6 s at the baseline). */
export function floorConnections(rate: number): number {
  return Math.ceil(rate * 2 * 1.5) + 2;
}

export async function runFloorClient(o: FloorOptions): Promise<FloorRecord[]> {
  const { hostname, port } = new URL(o.url);
  const free: Socket[] = [];
  const all: Socket[] = [];
  // A socket the server closes while idle (its keep-alive timeout) leaves the pool and is replaced.
  const open = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const s = connect({ host: hostname, port: Number(port), noDelay: true }, () => resolve(s));
      s.once('error', reject);
      s.once('close', () => {
        const i = free.indexOf(s);
        if (i !== -1) {
          free.splice(i, 1);
          if (!done) void open().then((n) => free.unshift(n), () => undefined);
        }
      });
      all.push(s);
    });
  let done = false;
  const n = floorConnections(o.rate);
  for (let i = 0; i < n; i++) free.push(await open());

  const records: FloorRecord[] = [];
  const pending: Promise<void>[] = [];
  for (const { scheduledAt, requestId, body } of floorRequests(o, 'floor', 0)) {
    const head = Buffer.from(`POST /v1/completions HTTP/1.1\r\nhost: ${hostname}:${port}\r\ncontent-type: application/json\r\nx-request-id: ${requestId}\r\ncontent-length: ${body.length}\r\n\r\n`);
    const bytes = Buffer.concat([head, body]);
    await sleepUntil(scheduledAt, o.clock);
    const socket = free.pop() ?? (await open());
    const rec: FloorRecord = { requestId, scheduledAt, sentAt: 0, contentTimes: [], ok: true };
    records.push(rec);
    pending.push(
      new Promise<void>((resolve) => {
        let tail: Buffer = Buffer.alloc(0);
        const onData = (chunk: Buffer): void => {
          const at = o.clock();
          for (let i = chunk.indexOf(TEXT_KEY); i !== -1; i = chunk.indexOf(TEXT_KEY, i + TEXT_KEY.length)) {
            if (chunk[i + TEXT_KEY.length] !== 0x22) rec.contentTimes.push(at);
          }
          // The response's last bytes, without copying every chunk (a terminator split across chunks is rare).
          tail = chunk.length >= END.length ? chunk.subarray(-END.length) : Buffer.concat([tail, chunk]).subarray(-END.length);
          if (tail.equals(END)) {
            socket.off('data', onData);
            socket.off('close', onClose);
            free.push(socket);
            resolve();
          }
        };
        const onClose = (): void => {
          rec.ok = false;
          resolve();
        };
        socket.on('data', onData);
        socket.once('close', onClose);
      }),
    );
    socket.write(bytes);
    rec.sentAt = o.clock();
  }
  await Promise.all(pending);
  done = true;
  for (const s of all) s.destroy();
  return records;
}
