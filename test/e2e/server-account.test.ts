import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Summary } from '../../runtime/core/summary/schema.ts';
import { startSimulator, type RunningSimulator } from '../../runtime/simulator/index.ts';
import { cli } from '../support/cli.ts';
import { useTempDirs } from '../support/temp-dir.ts';

/**
 * The server's own account of a run, end to end: the runner scrapes the simulator's vLLM-named
 * /metrics before, during and after its load, the aggregator takes the deltas, and the verdict
 * follows — over real HTTP on loopback, the simulator's counters fed by its own ground truth. One
 * worker: timing is not the subject (a late send on a busy machine is its own reason, left out of
 * the assertions below, which look at the server's reasons only).
 */
const tempDir = useTempDirs();
let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ ttftMs: 2, itlMs: 1, jitterMs: 0 });
});
afterAll(() => sim.close());

const serverReasons = (s: Summary): string[] => s.validity.reasons.filter((r) => /server|prefix cache/i.test(r));

async function run(runId: string, extra: string[] = [], onStderr?: (text: string) => void): Promise<{ summary: Summary; stdout: string; report: string }> {
  const out = await tempDir();
  const r = await cli(['run', '--target', sim.url, '--rate', '10', '--duration', '1', '--workers', '1', '--out', out, '--run-id', runId, ...extra], onStderr ? { onStderr } : {});
  expect([0, 3], r.stderr).toContain(r.code);
  const dir = join(out, runId);
  return { summary: Summary.parse(JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8'))), stdout: r.stdout, report: await readFile(join(dir, 'report.html'), 'utf8') };
}

describe("the server's account of a run", () => {
  it('with nothing else sending: foreign 0, the server-side TTFT beside the client’s in summary, table and report', async () => {
    const { summary, stdout, report } = await run('20260101T020000Z-alone1');
    const server = summary.server!;
    expect(server.scraped).toMatchObject({ endpoints: [`${sim.url}/metrics`], complete: true, failed: 0 });
    expect(server.requests).toMatchObject({ ours: summary.requests.succeeded, seen: summary.requests.succeeded, foreign: 0 });
    expect(server.ttft?.count).toBe(summary.requests.succeeded);
    expect(server.ttft?.p50).not.toBeNull();
    expect(server.ttft?.p99).not.toBeNull();
    expect(server.ttft?.metric).toBe('vllm:time_to_first_token_seconds');
    expect(serverReasons(summary)).toEqual([]);
    expect(stdout).toMatch(/of TTFT p50 [\d.]+ ms, the server accounts for [\d.]+ ms/);
    expect(report).toContain('id="server-percentiles"');
    expect(report).toMatch(/of TTFT p50 [\d.]+ ms, the server accounts for/);
  });

  it('another client sending 5 requests to the same server mid-run makes the run invalid, naming them', async () => {
    const runId = '20260101T020000Z-shared1';
    let fired: Promise<unknown> | undefined;
    // Once the run is sending (its first request is in the simulator's ground truth), a second client sends five.
    const poll = setInterval(() => {
      if (fired || !sim.groundTruth().some((g) => g.requestId.startsWith(`${runId}-`))) return;
      fired = Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          fetch(`${sim.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: sim.options.models[0], prompt: `another team's canary ${i}`, max_tokens: 4 }) }).then((r) => r.text()),
        ),
      );
    }, 20);
    const { summary } = await run(runId, ['--duration', '2']).finally(() => clearInterval(poll));
    await fired;
    expect(fired).toBeDefined();
    expect(summary.server?.requests.foreign).toBe(5);
    expect(summary.validity.valid).toBe(false);
    expect(serverReasons(summary)).toEqual([expect.stringMatching(/^The server handled 5 requests that were not this run's .*measured under other load/)]);
  });

  it('the same --seed twice: the second run found its prompts in the prefix cache and is invalid; fresh prompts hit ~0', async () => {
    const fresh1 = await run('20260101T020000Z-fresh1');
    const fresh2 = await run('20260101T020000Z-fresh2');
    for (const { summary } of [fresh1, fresh2]) {
      expect(summary.server?.prefixCache?.hitRate).toBeLessThan(0.05);
      expect(serverReasons(summary)).toEqual([]);
    }
    const first = await run('20260101T020000Z-seeded1', ['--seed', '7']);
    const second = await run('20260101T020000Z-seeded2', ['--seed', '7']);
    expect(first.summary.server?.prefixCache?.hitRate).toBeLessThan(0.05);
    expect(second.summary.server?.prefixCache?.hitRate).toBeGreaterThan(0.9);
    expect(second.summary.validity.valid).toBe(false);
    expect(serverReasons(second.summary)).toEqual([expect.stringMatching(/^The server's prefix cache served [\d.]+ % of the run's prompt tokens/)]);
  });

  it('an unreachable metrics endpoint is a note naming it, not a failure', async () => {
    const closed = 'http://127.0.0.1:9/metrics';
    const { summary } = await run('20260101T020000Z-nometrics', ['--metrics-url', closed]);
    expect(summary.server?.scraped).toMatchObject({ endpoints: [closed], complete: false });
    expect(summary.server?.requests.seen).toBeNull();
    expect(serverReasons(summary)).toEqual([]);
    expect(summary.validity.notes.join('\n')).toContain(closed);
  });

  it("several replicas: each one's metrics are read and summed; load on another replica is foreign", async () => {
    const other = await startSimulator({ ttftMs: 2, itlMs: 1, jitterMs: 0 });
    try {
      await fetch(`${other.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: other.options.models[0], prompt: 'before the run', max_tokens: 2 }) }).then((r) => r.text());
      const quiet = await run('20260101T020000Z-replicas1', ['--metrics-url', `${sim.url}/metrics`, '--metrics-url', `${other.url}/metrics`]);
      const server = quiet.summary.server!;
      expect(server.requests.replicas.map((r) => [r.endpoint, r.seen])).toEqual([
        [`${sim.url}/metrics`, quiet.summary.requests.succeeded],
        [`${other.url}/metrics`, 0],
      ]);
      expect(server.requests.foreign).toBe(0);

      const runId = '20260101T020000Z-replicas2';
      let fired: Promise<unknown> | undefined;
      const poll = setInterval(() => {
        if (fired || !sim.groundTruth().some((g) => g.requestId.startsWith(`${runId}-`))) return;
        fired = Promise.all([1, 2].map((i) => fetch(`${other.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: other.options.models[0], prompt: `batch job ${i}`, max_tokens: 2 }) }).then((r) => r.text())));
      }, 20);
      const busy = await run(runId, ['--duration', '2', '--metrics-url', `${sim.url}/metrics`, '--metrics-url', `${other.url}/metrics`]).finally(() => clearInterval(poll));
      await fired;
      expect(busy.summary.server?.requests.replicas.map((r) => r.seen)).toEqual([busy.summary.requests.succeeded, 2]);
      expect(busy.summary.server?.requests.foreign).toBe(2);
      expect(busy.summary.validity.valid).toBe(false);
    } finally {
      await other.close();
    }
  });

  it("the Job's --metrics-targets: the workflow's pod IPs at --metrics-port and --metrics-path; a missing list falls back to the target, said", async () => {
    const dir = await tempDir();
    const targets = join(dir, 'metrics-targets.json');
    await writeFile(targets, JSON.stringify(['127.0.0.1']));
    const port = new URL(sim.url).port;
    const listed = await run('20260101T020000Z-targets1', ['--metrics-targets', targets, '--metrics-port', port, '--metrics-path', '/metrics']);
    expect(listed.summary.server?.scraped.endpoints).toEqual([`http://127.0.0.1:${port}/metrics`]);
    expect(listed.summary.server?.requests.foreign).toBe(0);

    let stderr = '';
    const missing = await run('20260101T020000Z-targets2', ['--metrics-targets', join(dir, 'absent.json')], (t) => (stderr += t));
    expect(missing.summary.server?.scraped.endpoints).toEqual([`${sim.url}/metrics`]);
    expect(stderr).toContain(`metrics: ${join(dir, 'absent.json')} was not there: scraping ${sim.url}/metrics instead`);
  });
});
