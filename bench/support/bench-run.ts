import { layerConfig, parseScenario, presetConfig } from '../../runtime/core/scenario/index.ts';
import { resolveScenario } from '../../runtime/core/scenario/resolve.ts';
import type { RunOptions } from '../../runtime/runner/types.ts';
import { systemClock } from '../../runtime/timing/clock.ts';

/**
 * A runner's options for a benchmark: the baseline preset against `baseUrl` at one rate, with
 * `workers` worker threads, written to `outDir`. `onLoadStart` is called once, when the first status
 * line says the load is running (calibration and warm-up are over: what a bench counts starts then);
 * `onLoadEnd` once, when the last response is in (before the summary is computed).
 */
export function benchRunOptions(o: { runId?: string; baseUrl: string; rate: number; duration: number; workers: number; outDir: string; yieldThreads?: boolean; onLoadStart: () => void; onLoadEnd?: () => void }): RunOptions {
  const raw = layerConfig(presetConfig('baseline'), { server: { base_url: o.baseUrl }, load: { stages: [{ rate: o.rate, duration: o.duration }], num_workers: o.workers } });
  let started = false;
  return {
    scenario: resolveScenario(parseScenario(raw, 'bench')),
    scenarioName: 'baseline',
    configYaml: '',
    runId: o.runId ?? 'bench',
    outDir: o.outDir,
    shard: { index: 0, count: 1 },
    zone: null,
    clock: systemClock,
    interrupt: new AbortController().signal,
    graceMs: 10_000,
    yieldThreads: o.yieldThreads,
    onStatus: (s) => {
      if (s.phase === 'done') o.onLoadEnd?.();
      if (started || s.phase !== 'running') return;
      started = true;
      o.onLoadStart();
    },
  };
}
