import { Pool } from 'undici';
import { sleepUntil } from '../../runtime/timing/precise-timer.ts';
import { floorConnections, floorRequests, type FloorOptions, type FloorRecord } from './floor-client.ts';

/**
 * The floor client's work on undici: the same pre-built request bytes, the same timestamp per
 * network chunk and the same content count, but sent and received through undici's `Pool.dispatch`
 * as the runner does (HTTP/1.1 parsing, the socket in paused mode, the idle-socket check before a
 * write). No SSE framing, no JSON, no records. Between the floor and the runner it splits what the
 * runner costs above the floor into undici's share and the runner's own.
 */
const TEXT_KEY = Buffer.from('"text":"');

export async function runUndiciFloorClient(o: FloorOptions): Promise<FloorRecord[]> {
  const n = floorConnections(o.rate);
  const pool = new Pool(new URL(o.url).origin, { connections: n });
  try {
    // Every connection open before the first request, as the runner's warmConnections does.
    await Promise.all(Array.from({ length: n }, async () => (await pool.request({ path: '/v1/models', method: 'GET' })).body.dump()));
    const records: FloorRecord[] = [];
    const pending: Promise<void>[] = [];
    // Prompts the floor did not send (the simulator's prefix cache would serve those).
    for (const { scheduledAt, requestId, body } of floorRequests(o, 'undici', 1_000_000)) {
      const headers = { 'content-type': 'application/json', 'x-request-id': requestId };
      await sleepUntil(scheduledAt, o.clock);
      const rec: FloorRecord = { requestId, scheduledAt, sentAt: 0, contentTimes: [], ok: true };
      records.push(rec);
      pending.push(
        new Promise<void>((resolve) => {
          pool.dispatch(
            { path: '/v1/completions', method: 'POST', headers, body },
            {
              onRequestStart() {
                rec.sentAt = o.clock();
              },
              onResponseStart() {},
              onResponseData(_c, chunk) {
                const at = o.clock();
                for (let i = chunk.indexOf(TEXT_KEY); i !== -1; i = chunk.indexOf(TEXT_KEY, i + TEXT_KEY.length)) {
                  if (chunk[i + TEXT_KEY.length] !== 0x22) rec.contentTimes.push(at);
                }
              },
              onResponseEnd() {
                resolve();
              },
              onResponseError() {
                rec.ok = false;
                resolve();
              },
            },
          );
        }),
      );
    }
    await Promise.all(pending);
    return records;
  } finally {
    await pool.destroy();
  }
}
