import type { RunRequest } from '../records/run-manifest.ts';
import type { ServerFacts } from '../records/server-facts.ts';
import { Workload, type RunContext, type TargetPod } from '../summary/context.ts';
import type { Summary } from '../summary/schema.ts';
import type { ResolvedScenario, TokenDistribution } from '../scenario/resolve.ts';

/**
 * A run's context (core/summary/context.ts) derived from what the run knows, and two contexts
 * compared: the workload's fingerprint, the target's identity, what changed between two nights.
 */

export function describeDistribution(d: TokenDistribution): string {
  if (d.kind === 'fixed') return `fixed ${d.value}`;
  if (d.kind === 'uniform') return `uniform [${d.min}, ${d.max}]`;
  return `normal ${d.mean}±${d.stdDev} in [${d.min}, ${d.max === Number.MAX_SAFE_INTEGER ? '∞' : d.max}]`;
}

/** The workload of a resolved scenario. */
export function workloadOf(sc: ResolvedScenario): Workload {
  return {
    api: sc.api.type,
    streaming: sc.api.streaming,
    input: describeDistribution(sc.input),
    output: describeDistribution(sc.output),
    arrival: sc.load.arrival,
    stages: sc.load.stages.map((s) => ({ rate: s.rate, duration: s.duration })),
    intervalS: sc.load.intervalS,
    ignoreEos: sc.server.ignoreEos,
    maxInFlight: sc.load.maxInFlight,
  };
}

/**
 * `wl-` and 16 hex digits of two FNV-1a hashes of the workload's canonical JSON (keys in a fixed
 * order). Not a security hash: it only has to tell workloads apart in one series.
 */
export function workloadFingerprint(w: Workload): string {
  const canonical = JSON.stringify(Workload.parse(w), Object.keys(Workload.shape).concat(['rate', 'duration']));
  return `wl-${fnv1a(canonical, 0x811c9dc5)}${fnv1a(canonical, 0x01000193)}`;
}

function fnv1a(text: string, basis: number): string {
  let h = basis >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** One line a person reads: "completion streaming, input fixed 512, output fixed 128, even 1 req/s × 300 s". */
export function describeWorkload(w: Workload): string {
  const load = w.stages.map((s) => `${s.rate} req/s × ${s.duration} s`).join(', then ');
  return `${w.api}${w.streaming ? ' streaming' : ''}, input ${w.input}, output ${w.output}, ${w.arrival} ${load}${w.maxInFlight !== null ? `, at most ${w.maxInFlight} in flight` : ''}`;
}

/**
 * What differs between the previous run's context and this one's, in words a person acts on:
 * "image vllm/vllm-openai:v0.11.0 → vllm/vllm-openai:v0.12.0", "node type g6.xlarge → g6e.xlarge",
 * "server setting ttftMs 40 → 46". Empty when nothing that is recorded changed.
 */
export function contextChanges(prev: RunContext, cur: RunContext): string[] {
  const out: string[] = [];
  const arrow = (what: string, a: string | null | undefined, b: string | null | undefined): void => {
    if ((a ?? null) !== (b ?? null)) out.push(`${what} ${a ?? '(none)'} → ${b ?? '(none)'}`);
  };
  arrow('target', prev.target, cur.target);
  arrow('model', prev.model, cur.model);
  if (prev.runner.kind !== cur.runner.kind || prev.runner.version !== cur.runner.version) {
    out.push(`runner ${prev.runner.kind} ${prev.runner.version} → ${cur.runner.kind} ${cur.runner.version}`);
  }
  if (prev.server || cur.server) {
    // Runs recorded before the type was kept say nothing of it: unknown, not a change.
    if (prev.server?.type && cur.server?.type) arrow('server type', prev.server.type, cur.server.type);
    arrow('server version', prev.server?.version, cur.server?.version);
    const a = prev.server?.settings ?? {};
    const b = cur.server?.settings ?? {};
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) arrow(`server setting ${key}`, a[key], b[key]);
  }
  if (prev.pod || cur.pod) {
    out.push(...imageChanges(prev.pod?.images ?? [], cur.pod?.images ?? []));
    arrow('node type', prev.pod?.instanceType, cur.pod?.instanceType);
    arrow('node', prev.pod?.node, cur.pod?.node);
  }
  if (prev.fingerprint !== cur.fingerprint) {
    const a = prev.workload;
    const b = cur.workload;
    for (const key of Object.keys(Workload.shape) as Array<keyof Workload>) {
      const x = JSON.stringify(a[key]);
      const y = JSON.stringify(b[key]);
      if (x !== y) out.push(`workload ${key} ${x} → ${y}`);
    }
  }
  return out;
}

/** Images matched by repository (the reference without tag or digest): a new tag reads as one change. */
function imageChanges(before: string[], after: string[]): string[] {
  const repo = (ref: string): string => ref.replace(/@sha256:[0-9a-f]+$/, '').replace(/:[^/:]+$/, '');
  const out: string[] = [];
  const gone = before.filter((i) => !after.includes(i));
  const added = after.filter((i) => !before.includes(i));
  for (const old of gone) {
    const successor = added.find((n) => repo(n) === repo(old));
    if (successor) {
      out.push(`image ${old} → ${successor}`);
      added.splice(added.indexOf(successor), 1);
    } else out.push(`image ${old} removed`);
  }
  for (const n of added) out.push(`image ${n} added`);
  return out;
}

/** The context of an aggregated run: its identity's parts, the workload read from its config, and what was observed. */
export function runContext(summary: Pick<Summary, 'run'>, workload: Workload, server: ServerFacts | null, pod: TargetPod | null): RunContext {
  return {
    fingerprint: workloadFingerprint(workload),
    workload,
    target: targetIdentity(summary.run.target),
    model: summary.run.model,
    runner: summary.run.runner,
    server,
    pod,
  };
}

/**
 * The target as a series knows it: its base URL, except that a server on this machine's loopback
 * is one target whatever its port (the built-in simulator takes a free port on every run; a
 * different local server shows up as a changed server version or setting, not a new series).
 */
export function targetIdentity(baseUrl: string): string {
  try {
    const u = new URL(baseUrl);
    if (u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]') return `${u.protocol}//localhost${u.pathname.replace(/\/+$/, '')}`;
    return baseUrl.replace(/\/+$/, '');
  } catch {
    return baseUrl;
  }
}

/**
 * The workload as far as a summary knows it, when the run's config.yml is missing or unreadable
 * (an inference-perf output aggregated on its own): token distributions "unknown".
 */
export function workloadFromRequest(s: Pick<Summary, 'run'>, request: RunRequest): Workload {
  return {
    api: s.run.api,
    streaming: s.run.streaming,
    input: 'unknown',
    output: 'unknown',
    arrival: request.arrival,
    stages: request.stages.map((st) => ({ rate: st.rate, duration: st.duration })),
    intervalS: request.intervalS ?? 0,
    ignoreEos: request.ignoreEos,
    maxInFlight: null,
  };
}
