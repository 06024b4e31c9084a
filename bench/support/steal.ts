import { readFileSync } from 'node:fs';

/**
 * CPU time the hypervisor took from this VM ("steal", /proc/stat) over an interval, as a share of
 * all CPU time in it. A timing benchmark on a VM whose host is oversubscribed measures the host:
 * with steal at 30–70 % (seen on the development VM) every tail is the host's, so each row says it.
 */
export interface StealWindow {
  /** Share of the machine's CPU time stolen since the window opened, 0–1 (NaN without /proc/stat). */
  share(): number;
}

function ticks(): { steal: number; total: number } | null {
  let line: string | undefined;
  try {
    line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  } catch {
    return null;
  }
  // "cpu  user nice system idle iowait irq softirq steal guest guest_nice" (guest time is already in user).
  const f = (line ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 8 || f.some((x) => !Number.isFinite(x))) return null;
  return { steal: f[7]!, total: f.reduce((a, b) => a + b, 0) };
}

export function openStealWindow(): StealWindow {
  const start = ticks();
  return {
    share() {
      const end = ticks();
      if (!start || !end || end.total === start.total) return Number.NaN;
      return (end.steal - start.steal) / (end.total - start.total);
    },
  };
}

export const stealPercent = (share: number): string => (Number.isNaN(share) ? '–' : `${Math.round(share * 100)} %`);
