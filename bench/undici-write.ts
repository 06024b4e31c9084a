/**
 * From "send it now" to the request's first byte on the socket: the floor's one `socket.write` of
 * pre-built bytes, beside undici's `dispatch` on a reused keep-alive connection (the runner's path)
 * and on a fresh pre-connected one (a Client per request whose connector hands over a socket opened
 * earlier, so undici's idle-socket check — GHSA-35p6-xmwp-9g52, a setImmediate before writing on a
 * reused idle socket — does not apply). Requests go one at a time with a pause between, as at 1 req/s.
 * The socket's `write` is wrapped to stamp the first call; "returns" is when dispatch() returned.
 * For undici's paths it also gives how long after `onRequestStart` (where the runner stamps "sent")
 * undici's write returns (its `bodyChunkSent` message).
 *
 *   node --import tsx bench/undici-write.ts [--requests 2000] [--gap-ms 5]
 */
import { subscribe } from 'node:diagnostics_channel';
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { Client, Pool, type Dispatcher } from 'undici';
import { startSimulator } from '../runtime/simulator/index.ts';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '2000' }, 'gap-ms': { type: 'string', default: '5' } } });
const N = Number(values.requests);
const GAP = Number(values['gap-ms']);
const sim = await startSimulator({ ttftMs: 1, itlMs: 0, jitterMs: 0, tokenizer: 'words' });
const { hostname, port } = new URL(sim.url);
const now = (): number => performance.now();
const body = Buffer.from(JSON.stringify({ model: 'qwen3-8b', prompt: 'hello world', max_tokens: 1, stream: true }));
const headers = { 'content-type': 'application/json', 'x-request-id': 'bench-0' };
const pause = (): Promise<void> => new Promise((r) => setTimeout(r, GAP));

interface Stamp {
  wrote?: number;
}
const open = (stamp: Stamp): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const s = connect({ host: hostname, port: Number(port), noDelay: true }, () => resolve(s));
    s.once('error', reject);
    const write = s.write.bind(s) as (...a: unknown[]) => boolean;
    (s as unknown as { write: (...a: unknown[]) => boolean }).write = (...a: unknown[]) => {
      stamp.wrote ??= now();
      return write(...a);
    };
  });

// undici's message right after it wrote a request's body.
let bodyWritten: number | undefined;
subscribe('undici:request:bodyChunkSent', (m) => {
  if ((m as { chunk?: unknown }).chunk === body) bodyWritten = now();
});
const startToWritten: Record<string, number[]> = { reused: [], fresh: [] };

/** One request through undici; resolves with [dispatch returned, first write] in ms after the call. */
function viaUndici(d: Dispatcher, stamp: Stamp, path: 'reused' | 'fresh'): Promise<[number, number]> {
  stamp.wrote = undefined;
  bodyWritten = undefined;
  let started = 0;
  return new Promise((resolve, reject) => {
    const t0 = now();
    d.dispatch(
      { path: '/v1/completions', method: 'POST', headers, body },
      {
        // The runner's handler shape (request.ts): undici tells the new API by onRequestStart.
        onRequestStart: () => {
          started = now();
        },
        onResponseStart: () => undefined,
        onResponseData: () => undefined,
        onResponseEnd: () => {
          startToWritten[path]!.push(bodyWritten! - started);
          resolve([returned - t0, stamp.wrote! - t0]);
        },
        onResponseError: (_c, e) => reject(e),
      },
    );
    const returned = now();
  });
}

/** The floor: pre-built bytes, one write; resolves when the response has ended. */
function viaSocket(s: Socket, stamp: Stamp): Promise<[number, number]> {
  stamp.wrote = undefined;
  const head = Buffer.from(`POST /v1/completions HTTP/1.1\r\nhost: ${hostname}:${port}\r\ncontent-type: application/json\r\nx-request-id: bench-0\r\ncontent-length: ${body.length}\r\n\r\n`);
  const bytes = Buffer.concat([head, body]);
  return new Promise((resolve) => {
    const onData = (chunk: Buffer): void => {
      if (chunk.subarray(-5).toString() === '0\r\n\r\n') {
        s.off('data', onData);
        resolve([returned - t0, stamp.wrote! - t0]);
      }
    };
    s.on('data', onData);
    const t0 = now();
    s.write(bytes);
    const returned = now();
  });
}

const results: Record<string, Array<[number, number]>> = { floor: [], reused: [], fresh: [] };
const floorStamp: Stamp = {};
const floorSocket = await open(floorStamp);
const poolStamp: Stamp = {};
const pool = new Pool(sim.url, { connections: 1, pipelining: 1, connect: (_o, cb) => void open(poolStamp).then((s) => cb(null, s), (e: Error) => cb(e, null)) });
// Interleaved, so the three see the same machine.
for (let i = 0; i < N; i++) {
  await pause();
  results.floor!.push(await viaSocket(floorSocket, floorStamp));
  await pause();
  results.reused!.push(await viaUndici(pool, poolStamp, 'reused'));
  const freshStamp: Stamp = {};
  const s = await open(freshStamp);
  // The connector answers in a microtask: undici expects an asynchronous connect.
  const client = new Client(sim.url, { pipelining: 1, connect: (_o, cb) => queueMicrotask(() => cb(null, s)) });
  await pause();
  results.fresh!.push(await viaUndici(client, freshStamp, 'fresh'));
  void client.close();
}
floorSocket.destroy();
await pool.close();
await sim.close();

const q = (a: number[], p: number): string => (a.slice().sort((x, y) => x - y)[Math.floor(p * (a.length - 1))]! * 1000).toFixed(0);
console.log(`dispatch → first byte written, µs — node ${process.version}, ${N} requests each (the first ${N / 10} left out: JIT warm-up), ${GAP} ms apart\n`);
console.log('| path | call returns p50 | written p50 | written p90 | written p99 |');
console.log('|---|---:|---:|---:|---:|');
for (const [name, rows] of Object.entries(results)) {
  const warm = rows.slice(N / 10);
  console.log(`| ${name} | ${q(warm.map((r) => r[0]), 0.5)} | ${q(warm.map((r) => r[1]), 0.5)} | ${q(warm.map((r) => r[1]), 0.9)} | ${q(warm.map((r) => r[1]), 0.99)} |`);
}
console.log('\n`onRequestStart` → undici\'s write returned (`bodyChunkSent`), µs:\n');
console.log('| path | p50 | p90 | p99 |');
console.log('|---|---:|---:|---:|');
for (const [name, xs] of Object.entries(startToWritten)) {
  const warm = xs.slice(N / 10);
  console.log(`| ${name} | ${q(warm, 0.5)} | ${q(warm, 0.9)} | ${q(warm, 0.99)} |`);
}
