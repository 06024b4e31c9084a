import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { InputError, validate } from '../errors.ts';
import { presets, presetNames, type PresetName } from './presets.ts';
import { ScenarioConfig, type ScenarioConfigInput } from './schema.ts';

/** Parses YAML text (inference-perf's `config.yml`) into a validated scenario config. */
export function parseScenarioYaml(text: string, source: string): ScenarioConfig {
  return parseScenario(readScenarioYaml(text, source), source);
}

/** YAML text → a plain mapping, not yet validated (flags and overrides are merged onto it first). */
export function readScenarioYaml(text: string, source: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    const detail = err instanceof YAMLParseError ? err.message.split('\n')[0] : String(err);
    throw new InputError(source, [`is not valid YAML: ${detail}`], 'correct the YAML syntax at the line shown.');
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InputError(source, ['must be a YAML mapping with keys api, data, load, server, …'], 'start from `inference-baseline run --scenario baseline` and its config.yml.');
  }
  return raw as Record<string, unknown>;
}

/** Validates an already-parsed object; every problem is reported at once, by path. */
export function parseScenario(raw: unknown, source: string): ScenarioConfig {
  const result = validate(ScenarioConfig, raw, { supportedKeys: supportedKeysAt });
  if (result.ok) return checkSemantics(result.data, source);
  // A wrong server address is the commonest mistake: its fix is the address's form, not the key list.
  const onlyBaseUrl = result.problems.every((p) => p.startsWith('server.base_url:'));
  throw new InputError(source, result.problems, onlyBaseUrl ? "set server.base_url to the server's base URL, e.g. http://qwen3-vllm.default:8000 (http or https, without /v1)." : 'see README.md "Scenario config" for the supported inference-perf keys.');
}

export function presetConfig(name: string): ScenarioConfigInput {
  if (!(presetNames as string[]).includes(name)) {
    throw new InputError('--scenario', [`unknown scenario "${name}"`], `use one of: ${presetNames.join(', ')}.`);
  }
  return structuredClone(presets[name as PresetName]) as ScenarioConfigInput;
}

/** The keys the schema accepts at `path` (for "unknown key" messages). */
export function supportedKeysAt(path: ReadonlyArray<PropertyKey>): string[] {
  let schema: z.ZodType = ScenarioConfig;
  for (const key of path) {
    schema = unwrap(schema);
    if (schema instanceof z.ZodObject) schema = (schema.shape as Record<string, z.ZodType>)[String(key)] ?? schema;
    else if (schema instanceof z.ZodArray) schema = schema.element as z.ZodType;
  }
  schema = unwrap(schema);
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodDefault || s instanceof z.ZodNullable) {
    s = s.unwrap() as z.ZodType;
  }
  return s;
}

/** Rules that need more than one field. */
function checkSemantics(config: ScenarioConfig, source: string): ScenarioConfig {
  const problems: string[] = [];
  for (const [name, d] of [
    ['data.input_distribution', config.data.input_distribution],
    ['data.output_distribution', config.data.output_distribution],
  ] as const) {
    if (!d) continue;
    if (d.min !== undefined && d.max !== undefined && d.min > d.max) problems.push(`${name}: min (${d.min}) is greater than max (${d.max})`);
    if (d.min !== undefined && d.mean < d.min) problems.push(`${name}: mean (${d.mean}) is below min (${d.min})`);
    if (d.max !== undefined && d.mean > d.max) problems.push(`${name}: mean (${d.mean}) is above max (${d.max})`);
  }
  if (config.api.type === 'chat' && config.data.type === 'mock') problems.push('data.type: "mock" is not supported with api.type "chat"; use "synthetic"');
  if (problems.length > 0) throw new InputError(source, problems, 'correct the values named above.');
  return config;
}
