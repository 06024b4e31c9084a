import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregateRun, writeOutputs } from '../../runtime/aggregator/aggregate-run.ts';
import { FsRunStore } from '../../runtime/aggregator/fs-run-store.ts';
import { nativeRecords, writeInferencePerfRun, writeNativeRun } from '../../bench/support/generate.ts';
import { useTempDirs } from '../support/temp-dir.ts';

const tempDir = useTempDirs();

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Skipped where Chromium is not installed, unless REQUIRE_CHROMIUM=1 (CI), where its absence fails. */
const run = existsSync(executablePath) || process.env.REQUIRE_CHROMIUM === '1';

let root: string;
let browser: Browser;
beforeAll(async () => {
  root = await tempDir();
  if (!run) return;
  browser = await chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
});
afterAll(async () => {
  await browser?.close();
});

/** Opens report.html offline (every request but the file itself is blocked) and inspects its charts. */
interface TimelineScales {
  ttftScaleMax: number;
  ttftDataMax: number;
  e2eScaleMax: number;
  e2eDataMax: number;
}

async function openReport(
  path: string,
): Promise<{ charts: number; canvases: Array<{ w: number; h: number; inked: number }>; verdict: string; timelineScales: TimelineScales | null; external: string[]; errors: string[] }> {
  const context = await browser.newContext({ offline: true });
  const page = await context.newPage();
  const external: string[] = [];
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:')) return route.continue();
    external.push(url);
    return route.abort();
  });
  await page.goto(pathToFileURL(path).href);
  await page.waitForFunction('document.body.getAttribute("data-charts") !== null');
  // Evaluated in the page (a string: this project compiles without the DOM library).
  const result = (await page.evaluate(`(() => {
    const canvases = [...document.querySelectorAll('.uplot canvas')].map((canvas) => {
      const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      let inked = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked += 1;
      return { w: canvas.width, h: canvas.height, inked };
    });
    const timeline = window.__reportCharts.find((u) => u.scales.ttft);
    const top = (i) => Math.max(...timeline.data[i].filter((v) => v != null));
    const timelineScales = timeline ? { ttftScaleMax: timeline.scales.ttft.max, ttftDataMax: Math.max(top(1), top(2)), e2eScaleMax: timeline.scales.e2e.max, e2eDataMax: Math.max(top(3), top(4)) } : null;
    return { charts: Number(document.body.getAttribute('data-charts')), canvases, verdict: document.getElementById('verdict').textContent, timelineScales };
  })()`)) as { charts: number; canvases: Array<{ w: number; h: number; inked: number }>; verdict: string; timelineScales: TimelineScales | null };
  await context.close();
  return { ...result, external, errors };
}

describe('report.html in headless Chromium', () => {
  it.skipIf(!run)('native run: verdict, table and six drawn charts, offline', async () => {
    const dir = join(root, 'native');
    const { records } = nativeRecords({ requests: 400, tokens: 16, seed: 4, failEvery: 100 });
    await writeNativeRun(dir, records, { shards: 2, tokens: 16 });
    const store = new FsRunStore(dir);
    await writeOutputs(store, await aggregateRun(store));
    const html = await readFile(join(dir, 'report.html'), 'utf8');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/);
    const r = await openReport(join(dir, 'report.html'));
    expect(r.errors).toEqual([]);
    expect(r.external).toEqual([]);
    expect(r.verdict).toMatch(/INVALID/);
    // ttft, itl, e2e and schedule-delay curves, latency and schedule delay over the run.
    expect(r.charts).toBe(6);
    expect(r.canvases).toHaveLength(6);
    for (const c of r.canvases) {
      expect(c.w).toBeGreaterThan(100);
      expect(c.inked).toBeGreaterThan(500);
    }
    expect(html).toContain('4 of 400 requests failed');
    // What the failed requests said, without opening the gzip parts.
    expect(html).toMatch(/<table id="failures">[\s\S]*<tr><td>4<\/td><th>http_status<\/th><td>503<\/td><td class="msg">HTTP 503<\/td><\/tr>/);
    // TTFT has its own axis, fitted to TTFT's values: one shared axis would stretch to e2e's
    // largest value and flatten TTFT.
    const sc = r.timelineScales!;
    expect(sc.e2eScaleMax).toBeGreaterThanOrEqual(sc.e2eDataMax);
    expect(sc.ttftScaleMax).toBeGreaterThanOrEqual(sc.ttftDataMax);
    expect(sc.ttftScaleMax).toBeLessThan(sc.ttftDataMax * 1.5);
  });

  it.skipIf(!run)('inference-perf run: distributions and timeline drawn, schedule delay explained', async () => {
    const dir = join(root, 'ip');
    await writeInferencePerfRun(dir, { version: '0.6.1', requests: 300, tokens: 16 });
    const store = new FsRunStore(dir);
    await writeOutputs(store, await aggregateRun(store));
    const r = await openReport(join(dir, 'report.html'));
    expect(r.errors).toEqual([]);
    expect(r.verdict).toBe('VALID BASELINE');
    expect(r.charts).toBe(4);
    for (const c of r.canvases) expect(c.inked).toBeGreaterThan(500);
    expect(await readFile(join(dir, 'report.html'), 'utf8')).toContain("Schedule delay comes from inference-perf's summary file");
  });
});
