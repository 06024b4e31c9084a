import { layerConfig, parseScenario, presetConfig } from '../../runtime/core/scenario/index.ts';
import { resolveScenario, type ResolvedScenario } from '../../runtime/core/scenario/resolve.ts';
import type { RunOptions } from '../../runtime/runner/types.ts';
import { systemClock } from '../../runtime/timing/clock.ts';

/**
 * The baseline preset pointed at `baseUrl`, with small lengths and a short load for loopback tests,
 * in one worker (the preset's four are tested in test/runner/workers.test.ts).
 */
export function smallScenario(baseUrl: string, over: Record<string, unknown> = {}): ResolvedScenario {
  const raw = layerConfig(
    presetConfig('baseline'),
    {
      server: { base_url: baseUrl },
      data: {
        input_distribution: { mean: 64, std_dev: 0, min: 64, max: 64 },
        output_distribution: { mean: 16, std_dev: 0, min: 16, max: 16 },
      },
      load: { stages: [{ rate: 10, duration: 1 }], num_workers: 1 },
    },
    over,
  );
  return resolveScenario(parseScenario(raw, 'test scenario'));
}

/** A runner's options for a loopback test: smallScenario(baseUrl, over), one shard, the system clock. */
export function loopbackRunOptions(baseUrl: string, dir: string, runId: string, over: Record<string, unknown> = {}, interrupt = new AbortController().signal): RunOptions {
  return {
    scenario: smallScenario(baseUrl, over),
    scenarioName: 'baseline',
    configYaml: 'test: true\n',
    runId,
    outDir: dir,
    shard: { index: 0, count: 1 },
    zone: null,
    clock: systemClock,
    interrupt,
    graceMs: 300,
    // The test process's threads keep their priority (a renice cannot be undone, and the fork runs
    // other tests after); the tests of it ask for it, and the CLI's processes do it as a run does.
    yieldThreads: false,
  };
}
