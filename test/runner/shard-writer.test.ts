import { OperationFailed } from '../../runtime/core/errors.ts';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { RequestRecord } from '../../runtime/core/records/record.ts';
import { ShardWriter } from '../../runtime/runner/shard-writer.ts';
import { useTempDirs } from '../support/temp-dir.ts';

const tempDir = useTempDirs();

const record = (seq: number): RequestRecord => ({
  v: 1, runId: 'r', shard: 2, seq, stage: 0, scheduledAt: seq, sentAt: seq, firstTokenAt: null, doneAt: seq + 1, contentTimes: [],
  inputTokens: { requested: 1, client: 1, server: 1 }, outputTokens: { requested: 1, client: 0, server: 1 }, status: 200, error: null,
});

async function requestsDir(): Promise<string> {
  const dir = join(await tempDir(), 'requests');
  await mkdir(dir);
  return dir;
}

describe('ShardWriter', () => {
  it('starts a new part by record count and by age, announcing each part once it is complete on disk', async () => {
    const dir = await requestsDir();
    let now = 0;
    const closed: string[] = [];
    const w = new ShardWriter(dir, 2, { recordsPerPart: 3, partMs: 60_000, clock: () => now, onPartClosed: (p) => closed.push(p) });
    for (let i = 0; i < 4; i++) w.write(record(i)); // 3 in part 0, the 4th opens part 1
    now = 61_000;
    w.write(record(4)); // part 1 is a minute old: part 2
    await w.close();

    expect(w.parts).toEqual(['shard-0002-0000.ndjson.gz', 'shard-0002-0001.ndjson.gz', 'shard-0002-0002.ndjson.gz']);
    expect([...closed].sort()).toEqual(w.parts.map((p) => `requests/${p}`)); // parts finish in any order
    const seqs = await Promise.all(
      w.parts.map(async (p) => gunzipSync(await readFile(join(dir, p))).toString('utf8').trim().split('\n').map((l) => (JSON.parse(l) as RequestRecord).seq)),
    );
    expect(seqs).toEqual([[0, 1, 2], [3], [4]]);
    expect(w.records).toBe(5);
  });

  it('never overwrites an existing raw file', async () => {
    const dir = await requestsDir();
    await writeFile(join(dir, 'shard-0002-0000.ndjson.gz'), 'earlier run');
    const w = new ShardWriter(dir, 2);
    w.write(record(0));
    await expect(w.close()).rejects.toThrow(/EEXIST/);
    expect(await readFile(join(dir, 'shard-0002-0000.ndjson.gz'), 'utf8')).toBe('earlier run');
    expect(await readdir(dir)).toEqual(['shard-0002-0000.ndjson.gz']);
  });
});

describe('ShardWriter: nothing measured is lost', () => {
  it('each record is on disk, readable, the moment it is written (no buffering to flush, no close needed)', async () => {
    const dir = await requestsDir();
    const w = new ShardWriter(dir, 0);
    for (let i = 0; i < 7; i++) w.write(record(i));
    // Read while the part is still open, as after a SIGKILL: every record written so far is there.
    const text = gunzipSync(await readFile(join(dir, 'shard-0000-0000.ndjson.gz'))).toString('utf8');
    expect(text.trim().split('\n').map((l) => (JSON.parse(l) as RequestRecord).seq)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    await w.close();
  });

  it('a write that fails (a full disk) stops writing, tells the runner (which stops sending), keeps what was written, and close() counts what was lost (exit 1: not the input)', async () => {
    const dir = await requestsDir();
    const failures: Error[] = [];
    const w = new ShardWriter(dir, 0, { onError: (e) => failures.push(e) });
    w.write(record(0));
    // /dev/full answers every write with ENOSPC: swap the open part's descriptor for one on it.
    const { openSync, closeSync } = await import('node:fs');
    const full = openSync('/dev/full', 'w');
    const internal = w as unknown as { fd: number };
    closeSync(internal.fd);
    internal.fd = full;
    w.write(record(1));
    w.write(record(2));
    expect(w.records).toBe(1);
    expect(failures.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['ENOSPC']);
    const err = await w.close().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(OperationFailed);
    expect((err as Error).message).toMatch(/^requests\/shard-0000-0000\.ndjson\.gz: a request record could not be written \(ENOSPC.*\), so the run stopped sending: the 1 record\(s\) written before it are kept in requests\/shard-0000-0000\.ndjson\.gz; 2 measured request\(s\) could not be recorded\.\nFix: free disk space/);
  });
});
