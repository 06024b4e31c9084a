import { InvalidArgumentError } from 'commander';
import { isRunId, RUN_ID_RULE } from '../core/run-spec/naming.ts';
import { DNS_LABEL, ZONE_NAME } from '../core/run-spec/stack-defaults.ts';
import { runnerKinds, type RunnerKind } from '../core/records/run-manifest.ts';
import { baseUrlProblem, MAX_WORKERS } from '../core/scenario/schema.ts';
import { METRIC_NAMESPACE, METRIC_NAMESPACE_RULE } from '../core/summary/published.ts';

/**
 * A number as a person writes it: decimal digits, an optional fraction and sign. `Number()` alone
 * takes `0x10` as 16, `1e3`, `Infinity` and "" (as 0): a typo must not become a different run.
 */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;
function decimal(value: string): number {
  return DECIMAL.test(value.trim()) ? Number(value) : Number.NaN;
}

/** Why a value that JavaScript reads as a number is refused: said, so "1e1" is not told it is no number. */
function notation(value: string): string {
  return !DECIMAL.test(value.trim()) && Number.isFinite(Number(value)) && value.trim() !== '' ? ', written in plain decimal digits (no hex, exponent or Infinity)' : '';
}

/** commander argument parsers that reject bad values with the flag's meaning and a fix. */
export function positiveNumber(what: string) {
  return (value: string): number => {
    const n = decimal(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`must be a positive number (${what})${notation(value)}; got "${value}".`);
    return n;
  };
}

export function nonNegativeNumber(what: string) {
  return (value: string): number => {
    const n = decimal(value);
    if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`must be zero or a positive number (${what})${notation(value)}; got "${value}".`);
    return n;
  };
}

export function positiveInteger(what: string) {
  return (value: string): number => {
    const n = decimal(value);
    if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`must be a whole number ≥ 1 (${what})${notation(value)}; got "${value}".`);
    return n;
  };
}

export function nonNegativeInteger(what: string) {
  return (value: string): number => {
    const n = decimal(value);
    if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`must be a whole number ≥ 0 (${what})${notation(value)}; got "${value}".`);
    return n;
  };
}

/** Worker threads or simulator processes: 1 to MAX_WORKERS (the config's `load.num_workers` has the same bound). */
export function workerCount(value: string): number {
  const n = decimal(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS) throw new InvalidArgumentError(`must be a whole number from 1 to ${MAX_WORKERS}${notation(value)}; got "${value}".`);
  return n;
}

export function port(value: string): number {
  const n = decimal(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`must be a TCP port from 0 to 65535 (0 = any free port); got "${value}".`);
  return n;
}

export function probability(value: string): number {
  const n = decimal(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`must be a probability from 0 to 1; got "${value}".`);
  return n;
}

/** `--shard i/N`: this pod's index and the number of pods of an Indexed Job. */
export function shardSpec(value: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(value);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index >= count) throw new InvalidArgumentError(`must be INDEX/COUNT with 0 ≤ INDEX < COUNT, e.g. 0/1; got "${value}".`);
  return { index, count };
}

/** A server's base URL (`--target`): the rule every input that names a server follows (core/scenario/schema.ts). */
export function httpUrl(value: string): string {
  const problem = baseUrlProblem(value);
  if (problem) throw new InvalidArgumentError(`${problem}; got "${value}".`);
  return value.replace(/\/+$/, '');
}

/** A URL the runner pod fetches (`--bundle-url`): http(s). */
export function fetchUrl(value: string): string {
  const url = URL.parse(value);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new InvalidArgumentError(`must be an http(s) URL the runner pod can fetch (e.g. a presigned S3 URL); got "${value}".`);
  return value;
}

/** `--metrics-url`, repeatable: each replica's Prometheus endpoint (http(s), the full path). */
export function metricsUrls(value: string, previous: string[] | undefined): string[] {
  const url = URL.parse(value);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password) {
    throw new InvalidArgumentError(`must be the http(s) URL of a Prometheus endpoint, path included (e.g. http://10.0.1.7:8000/metrics); got "${value}".`);
  }
  return [...(previous ?? []), value];
}

/** `--zone`: an availability zone name, as the nodes' topology.kubernetes.io/zone label carries it. */
export function zoneName(value: string): string {
  if (!ZONE_NAME.test(value)) throw new InvalidArgumentError(`must be an availability zone name like us-west-2a (the nodes' topology.kubernetes.io/zone label), not a zone ID or a region; got "${value}".`);
  return value;
}

/** `--window`: earlier valid runs a comparison draws its baseline from (3 at least: a spread needs them). */
export function windowSize(value: string): number {
  const n = decimal(value);
  if (!Number.isInteger(n) || n < 3 || n > 60) throw new InvalidArgumentError(`must be a whole number from 3 to 60 (earlier valid runs); got "${value}".`);
  return n;
}

/** A value that must not be empty (`--model ""` would otherwise be blamed on something else). */
export function nonEmpty(what: string) {
  return (value: string): string => {
    if (value.trim() === '') throw new InvalidArgumentError(`must not be empty (${what}).`);
    return value;
  };
}

/** `--out`: a directory (created if missing) or s3://bucket/prefix — never "" (that would write into the current directory). */
export function outLocation(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('must not be empty: a directory (created if missing) or s3://bucket/prefix; e.g. --out results.');
  if (value.startsWith('s3://')) {
    const m = /^s3:\/\/([^/]*)/.exec(value)!;
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(m[1]!)) throw new InvalidArgumentError(`must name a bucket: s3://<bucket>[/prefix] with a bucket name of 3–63 lower-case letters, digits, dots and hyphens; got "${value}".`);
  }
  return value;
}

/** `--endpoint`, `--s3-endpoint`: an S3-compatible server's http(s) URL. */
export function endpointUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`must be the http(s) URL of an S3-compatible server, such as http://127.0.0.1:4566; got "${value}".`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError(`must be an http(s) URL, such as http://127.0.0.1:4566; got "${value}".`);
  return value;
}

/**
 * `--name`: the scenario name a run is filed under (`history/<name>/<model>/`, the CloudWatch
 * Scenario dimension): one path segment, so `../evil` cannot file it elsewhere.
 */
export const SCENARIO_LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
export function scenarioLabel(value: string): string {
  if (!SCENARIO_LABEL.test(value) || value.includes('..')) throw new InvalidArgumentError(`must be 1–63 letters, digits, ".", "_" or "-", starting with a letter or digit (it names a directory and a metric dimension); got "${value}".`);
  return value;
}

/** `--namespace`: a CloudWatch namespace (the stack's metricNamespace follows the same rule). */
export function metricNamespace(value: string): string {
  if (!METRIC_NAMESPACE.test(value)) throw new InvalidArgumentError(`must be a CloudWatch namespace: ${METRIC_NAMESPACE_RULE}; got "${value}".`);
  return value;
}

/** `--runner`: which load generator the Job runs. */
/** A flag that takes one of a few words. */
export function oneOf<T extends string>(values: readonly T[]): (value: string) => T {
  return (value) => {
    if ((values as readonly string[]).includes(value)) return value as T;
    throw new InvalidArgumentError(`must be ${values.join(' or ')}; got "${value}".`);
  };
}

export function runnerKind(value: string): RunnerKind {
  if ((runnerKinds as readonly string[]).includes(value)) return value as RunnerKind;
  throw new InvalidArgumentError(`must be ${runnerKinds.join(' or ')}; got "${value}".`);
}

/** `--run-id` where a run id is named: the form every run id has. */
export function runIdOption(value: string): string {
  if (!isRunId(value)) throw new InvalidArgumentError(`must be ${RUN_ID_RULE}; got "${value}".`);
  return value;
}

/** `--bundle-sha256`: the runner bundle's digest as sha256sum prints it. */
export function sha256Hex(value: string): string {
  if (!/^[0-9a-f]{64}$/.test(value)) throw new InvalidArgumentError(`must be the bundle's sha256 as 64 lower-case hex digits (sha256sum prints it); got "${value}".`);
  return value;
}

/** A Kubernetes object name (namespace, ServiceAccount): a DNS label. */
export function kubernetesName(what: string) {
  return (value: string): string => {
    if (!DNS_LABEL.test(value)) throw new InvalidArgumentError(`must be a Kubernetes ${what} name: lower-case letters, digits and "-", starting and ending with a letter or digit, at most 63 characters; got "${value}".`);
    return value;
  };
}

/** An HTTP error status the simulator can answer with (`--error-status`). */
export function errorStatus(value: string): number {
  const n = decimal(value);
  if (!Number.isInteger(n) || n < 400 || n > 599) throw new InvalidArgumentError(`must be an HTTP error status from 400 to 599; got "${value}".`);
  return n;
}
