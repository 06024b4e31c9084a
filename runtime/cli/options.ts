import { InvalidArgumentError } from 'commander';
import { ZONE_NAME } from '../core/run-spec/stack-defaults.ts';

/** commander argument parsers that reject bad values with the flag's meaning and a fix. */
export function positiveNumber(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`must be a positive number (${what}); got "${value}".`);
    return n;
  };
}

export function nonNegativeNumber(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`must be zero or a positive number (${what}); got "${value}".`);
    return n;
  };
}

export function nonNegativeInteger(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`must be a whole number ≥ 0 (${what}); got "${value}".`);
    return n;
  };
}

/** Simulator processes: 1 to 64 (more than a machine's cores only adds switching). */
export function workerCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new InvalidArgumentError(`must be a whole number from 1 to 64; got "${value}".`);
  return n;
}

export function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`must be a TCP port from 0 to 65535 (0 = any free port); got "${value}".`);
  return n;
}

export function probability(value: string): number {
  const n = Number(value);
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

export function httpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`must be an http(s) URL such as http://127.0.0.1:8000; got "${value}".`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError(`must be an http(s) URL; got "${value}".`);
  if (url.pathname.replace(/\/+$/, '') === '/v1') throw new InvalidArgumentError(`give the server's base URL without /v1 (e.g. ${url.origin}); got "${value}".`);
  return value.replace(/\/+$/, '');
}

/** `--zone`: an availability zone name, as the nodes' topology.kubernetes.io/zone label carries it. */
export function zoneName(value: string): string {
  if (!ZONE_NAME.test(value)) throw new InvalidArgumentError(`must be an availability zone name like us-west-2a (the nodes' topology.kubernetes.io/zone label), not a zone ID or a region; got "${value}".`);
  return value;
}

/** `--window`: earlier valid runs a comparison draws its baseline from (3 at least: a spread needs them). */
export function windowSize(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 3 || n > 60) throw new InvalidArgumentError(`must be a whole number from 3 to 60 (earlier valid runs); got "${value}".`);
  return n;
}
