import { readFileSync } from 'node:fs';

/**
 * CPU time the hypervisor took from this machine ("steal", the 8th field of /proc/stat's `cpu`
 * line) over an interval, as a share of all its CPU time. A VM whose host is oversubscribed, or a
 * burstable instance out of credits, stalls the load generator however idle it is: on the
 * development VM heavy steal put every schedule-delay tail above the validity limit (BENCHMARKS.md
 * §1 has the figures). Recorded per shard so that an invalid run says whose the delay was. In a pod, /proc/stat is
 * the node's, which is what matters: the runner's CPUs are the node's.
 */
export interface CpuTicks {
  steal: number;
  total: number;
}

/** The `cpu` line of /proc/stat's text: "cpu  user nice system idle iowait irq softirq steal guest guest_nice". */
export function parseProcStat(text: string): CpuTicks | null {
  const line = text.split('\n', 1)[0] ?? '';
  if (!/^cpu\s/.test(line)) return null;
  // Guest time is already counted in user time, so the first eight fields are the whole.
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 8 || f.some((x) => !Number.isFinite(x) || x < 0)) return null;
  return { steal: f[7]!, total: f.reduce((a, b) => a + b, 0) };
}

/**
 * Share of CPU time stolen between two readings, 0–1 to four decimals (the counters tick at 10 ms,
 * so more digits are noise); null when either is missing or no time passed.
 */
export function stealShare(start: CpuTicks | null, end: CpuTicks | null): number | null {
  if (!start || !end || end.total <= start.total) return null;
  const share = Math.min(1, Math.max(0, (end.steal - start.steal) / (end.total - start.total)));
  return Math.round(share * 1e4) / 1e4;
}

/** This machine's counters now; null where there is no /proc/stat (macOS, Windows). */
export function readCpuTicks(path = '/proc/stat'): CpuTicks | null {
  try {
    return parseProcStat(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

/** Opens a window now; `share()` is the steal since then. */
export function openStealWindow(read: () => CpuTicks | null = readCpuTicks): { share(): number | null } {
  const start = read();
  return { share: () => stealShare(start, read()) };
}

/** "1.2 %", "34 %": a share as a person reads it. */
export function formatSteal(share: number): string {
  const pct = share * 100;
  return `${pct < 10 ? pct.toFixed(1) : Math.round(pct)} %`;
}
