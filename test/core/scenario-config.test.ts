import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../runtime/core/errors.ts';
import { flagLayer, layerConfig, parseScenario, parseScenarioYaml, presetConfig } from '../../runtime/core/scenario/index.ts';
import { resolveScenario } from '../../runtime/core/scenario/resolve.ts';

const seedDocument = new URL('../../../shared/seed/scenario-1-baseline.ko.md', import.meta.url);

const seedYaml = readFileSync(new URL('../fixtures/seed-config.yml', import.meta.url), 'utf8');

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error('expected an InputError');
}

describe('the seed ConfigMap', () => {
  it('parses unchanged', () => {
    const config = parseScenarioYaml(seedYaml, 'seed config.yml');
    expect(config.load.stages).toEqual([{ rate: 1, duration: 300 }]);
    expect(config.server.model_name).toBe('qwen3-8b');
  });

  it('is exactly the baseline preset', () => {
    expect(parseScenarioYaml(seedYaml, 'seed')).toEqual(parseScenario(presetConfig('baseline'), 'preset'));
  });

  it('resolves to 512 fixed input, 128 fixed output, evenly spaced 1 req/s for 300 s, streaming completions', () => {
    const s = resolveScenario(parseScenarioYaml(seedYaml, 'seed'));
    expect(s.input).toEqual({ kind: 'fixed', value: 512 });
    expect(s.output).toEqual({ kind: 'fixed', value: 128 });
    expect(s.load.arrival).toBe('even');
    expect(s.load.stages).toEqual([{ rate: 1, duration: 300 }]);
    expect(s.api).toMatchObject({ type: 'completion', streaming: true });
    expect(s.server).toMatchObject({ baseUrl: 'http://qwen3-vllm.default:8000', model: 'qwen3-8b', ignoreEos: true });
    expect(s.validity).toEqual({ maxScheduleDelayP99Ms: 10, maxRateDeviation: 0.05, maxErrorRate: 0, minSuccesses: 10, maxForeignRequests: 0, maxPrefixCacheHitRate: 0.05, requireServerMetrics: false });
  });

  // The seed document lives beside the repository (../shared), not in it: skipped, by name, where it is absent.
  it.skipIf(!existsSync(seedDocument))('matches the seed document it was copied from (../shared/seed, skipped where it is absent)', () => {
    const seedDoc = readFileSync(seedDocument, 'utf8');
    for (const line of seedYaml.split('\n').filter((l) => l.trim())) expect(seedDoc).toContain(line);
  });
});

describe('rejected configs name the input, the path and the fix', () => {
  it('invalid YAML', () => {
    const msg = messageOf(() => parseScenarioYaml('load:\n  stages: [\n', 'bad.yml'));
    expect(msg).toMatch(/^bad\.yml: is not valid YAML/);
    expect(msg).toContain('Fix:');
  });

  it('a YAML document that is not a mapping', () => {
    expect(messageOf(() => parseScenarioYaml('- 1\n- 2\n', 'list.yml'))).toContain('list.yml: must be a YAML mapping');
  });

  it('an unknown key, with the supported keys at that path', () => {
    const msg = messageOf(() => parseScenarioYaml(seedYaml.replace('  num_workers: 4', '  num_workers: 4\n  burst: 3'), 'cfg.yml'));
    expect(msg).toContain('load.burst: unknown or unsupported key');
    expect(msg).toContain('supported keys at load: type, arrival, stages, interval, num_workers');
  });

  it('an unknown top-level key', () => {
    const msg = messageOf(() => parseScenarioYaml(`${seedYaml}\nmetrics:\n  type: prometheus\n`, 'cfg.yml'));
    expect(msg).toContain('metrics: unknown or unsupported key; supported keys at (top level): api, data, load, server, tokenizer, storage, report, validity');
  });

  it('an unsupported value lists the supported ones', () => {
    const msg = messageOf(() => parseScenarioYaml(seedYaml.replace('type: synthetic', 'type: shareGPT'), 'cfg.yml'));
    expect(msg).toContain('data.type: unsupported value "shareGPT"; supported: "synthetic", "random", "mock"');
  });

  it('a negative rate', () => {
    const msg = messageOf(() => parseScenarioYaml(seedYaml.replace('rate: 1', 'rate: -1'), 'cfg.yml'));
    expect(msg).toMatch(/load\.stages\[0\]\.rate: .*>0/);
  });

  it('a missing base_url', () => {
    expect(messageOf(() => parseScenarioYaml(seedYaml.replace(/ {2}base_url: .*\n/, ''), 'cfg.yml'))).toContain('server.base_url: required');
  });

  it('every problem at once', () => {
    const yaml = seedYaml.replace('rate: 1', 'rate: 0').replace('duration: 300', 'duration: -5').replace('type: vllm', 'type: triton');
    const msg = messageOf(() => parseScenarioYaml(yaml, 'cfg.yml'));
    expect(msg).toContain('cfg.yml: 3 problems');
    expect(msg).toContain('load.stages[0].rate');
    expect(msg).toContain('load.stages[0].duration');
    expect(msg).toContain('server.type');
  });

  it('min above max', () => {
    const yaml = seedYaml.replace('    min: 128\n    max: 128', '    min: 200\n    max: 100');
    expect(messageOf(() => parseScenarioYaml(yaml, 'cfg.yml'))).toContain('data.output_distribution: min (200) is greater than max (100)');
  });

  it('an unknown preset', () => {
    expect(messageOf(() => presetConfig('nightly'))).toContain('--scenario: unknown scenario "nightly"');
  });
});

describe('overrides', () => {
  it('merge objects deeply and replace lists whole', () => {
    const merged = layerConfig(presetConfig('baseline'), { load: { stages: [{ rate: 2, duration: 20 }] }, server: { base_url: 'http://127.0.0.1:9' } });
    const s = resolveScenario(parseScenario(merged, 'merged'));
    expect(s.load.stages).toEqual([{ rate: 2, duration: 20 }]);
    expect(s.server.baseUrl).toBe('http://127.0.0.1:9');
    expect(s.server.model).toBe('qwen3-8b');
  });

  it('inference-perf ≥ 0.5 fixed distributions and poisson load resolve', () => {
    const s = resolveScenario(
      parseScenario(
        layerConfig(presetConfig('baseline'), { data: { input_distribution: { type: 'fixed', mean: 256, min: 1, max: 1024 } }, load: { type: 'poisson' } }),
        'x',
      ),
    );
    expect(s.input).toEqual({ kind: 'fixed', value: 256 });
    expect(s.load.arrival).toBe('poisson');
  });

  it('command-line flags set rate and duration on every stage, the model and the target', () => {
    const raw = layerConfig(presetConfig('baseline'), { load: { stages: [{ rate: 1, duration: 300 }, { rate: 5, duration: 60 }] } });
    const s = resolveScenario(parseScenario(layerConfig(raw, flagLayer(raw, { duration: 20, model: 'm', baseUrl: 'http://127.0.0.1:9' })), 'flags'));
    expect(s.load.stages).toEqual([{ rate: 1, duration: 20 }, { rate: 5, duration: 20 }]);
    expect(s.server).toMatchObject({ model: 'm', baseUrl: 'http://127.0.0.1:9' });
    expect(layerConfig(raw, flagLayer(raw, {}))).toEqual(raw);
  });
});
