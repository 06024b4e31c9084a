/**
 * Every name inside one run's directory (local) or S3 prefix (`runs/<scenario>/<model>/<runId>/`),
 * who writes it, and the one rule that protects measurements: **raw files are written once and
 * never overwritten; derived files are recomputed from the raw ones and may be replaced.**
 *
 * | name                                 | kind    | written by                                             |
 * |--------------------------------------|---------|--------------------------------------------------------|
 * | `run-spec.json`                      | raw     | PrepareRun (the cloud workflow)                        |
 * | `config.yml`                         | raw     | native runner shard 0; PrepareRun for inference-perf   |
 * | `run.json`                           | raw     | native runner shard 0, before the first request        |
 * | `requests/shard-<i>-<p>.ndjson.gz`   | raw     | native runner shard i, one part at a time              |
 * | `requests/shard-<i>.json`            | raw     | native runner shard i, when it stops                   |
 * | `raw/…`                              | raw     | inference-perf                                         |
 * | `summary.json`, `histograms.json`, `report.html` | derived | the aggregator                             |
 *
 * `config.yml` has exactly one writer per run: the native runner writes the config it ran (shard
 * 0 only), and PrepareRun writes it only for inference-perf, which keeps its own copy under `raw/`.
 */

export const RUN_SPEC_FILE = 'run-spec.json';
export const CONFIG_FILE = 'config.yml';
export const RUN_MANIFEST_FILE = 'run.json';
export const REQUESTS_DIR = 'requests';
export const RAW_DIR = 'raw';
/** The server's Prometheus scrapes around the load (runner shard 0 / the runner's coordinator): raw, one JSON line each. */
export const SERVER_METRICS_FILE = 'server-metrics.ndjson';

export const SUMMARY_FILE = 'summary.json';
export const HISTOGRAMS_FILE = 'histograms.json';
export const REPORT_FILE = 'report.html';

/** The aggregator's outputs: the only names in a run that may be replaced. */
export const derivedFiles = [SUMMARY_FILE, HISTOGRAMS_FILE, REPORT_FILE] as const;
export type DerivedFile = (typeof derivedFiles)[number];

export function isDerived(name: string): name is DerivedFile {
  return (derivedFiles as readonly string[]).includes(name);
}

const pad = (n: number): string => String(n).padStart(4, '0');

/** A shard's part file, within `requests/`: `shard-0003-0000.ndjson.gz` (shard index, then part). */
export function shardPartName(shard: number, part: number): string {
  return `shard-${pad(shard)}-${pad(part)}.ndjson.gz`;
}

/** A shard's manifest, within `requests/`: `shard-0003.json`. */
export function shardManifestName(shard: number): string {
  return `shard-${pad(shard)}.json`;
}

/** `requests/<name>`: a path relative to the run's root. */
export function requestsPath(name: string): string {
  return `${REQUESTS_DIR}/${name}`;
}

/** Part files relative to the run's root. */
export const shardPartPattern = /^requests\/shard-(\d{4})-(\d{4})\.ndjson\.gz$/;

/** `runs/<scenario>/<model>/<runId>/`: the run prefix in the results bucket. */
export const RUNS_PREFIX = 'runs/';

/** A name as one S3 key segment (`Qwen/Qwen3-8B` → `Qwen-Qwen3-8B`). */
export function keySegment(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '');
  return s === '' ? 'model' : s;
}

/** `runs/<scenario>/<model>/`: every run of one scenario and model (the parent of each run prefix). */
export function seriesPrefix(scenario: string, model: string): string {
  return `${RUNS_PREFIX}${keySegment(scenario)}/${keySegment(model)}/`;
}

/** `runs/<scenario>/<model>/<runId>/`. */
export function runPrefix(scenario: string, model: string, runId: string): string {
  return `${seriesPrefix(scenario, model)}${runId}/`;
}

/**
 * History: one small JSON entry per aggregated run, `history/<scenario>/<model>/<runId>.json` under
 * a history root — the bucket's root in the cloud, the `--out` directory locally. Never inside a
 * run's prefix (a run's files are its own), one object per run (no shared index to race on).
 */
export const HISTORY_DIR = 'history';

/** `history/<scenario>/<model>/`: the history of one series, relative to its root. */
export function historySeriesPath(scenario: string, model: string): string {
  return `${HISTORY_DIR}/${keySegment(scenario)}/${keySegment(model)}/`;
}

export function historyEntryName(runId: string): string {
  return `${runId}.json`;
}

/**
 * The history root of a run, from its location (`/`-separated, trailing slash optional): the part
 * before `runs/<scenario>/<model>/<runId>/` when the run is laid out that way (the workflow's
 * prefixes), else the run's parent (`<out>/<runId>` → `<out>`). '' is the root itself.
 */
export function historyRootOf(runLocation: string): string {
  const path = runLocation.replace(/\/+$/, '');
  const laidOut = /^(.*?)(?:^|\/)runs\/[^/]+\/[^/]+\/[^/]+$/.exec(path);
  if (laidOut) return laidOut[1] === '' ? '' : `${laidOut[1]}/`;
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash + 1);
}
