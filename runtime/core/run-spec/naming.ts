/**
 * Names a run gets, decided once by pure code (the time and the randomness are passed in).
 *
 * Run ids sort by time and never collide: UTC `YYYYMMDDTHHMMSSZ` + `-` + a short lower-case suffix
 *. This is the one rule: the workflow, `run --run-id` and `render --run-id` all check it.
 */
/** A UTC time that exists on the clock (month 01–12, day 01–31, hour 00–23…), then the suffix. */
export const RUN_ID_PATTERN = /^\d{4}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3])[0-5]\d[0-5]\dZ-[a-z0-9]{4,12}$/;
export const RUN_ID_EXAMPLE = '20250101T020000Z-ab12cd';
export const RUN_ID_RULE = `UTC time, "-", 4–12 lower-case letters/digits (e.g. ${RUN_ID_EXAMPLE})`;

/** The pattern, and a day the calendar has (the pattern alone takes 20260230). */
export function isRunId(value: string): boolean {
  if (!RUN_ID_PATTERN.test(value)) return false;
  const [y, m, d] = [Number(value.slice(0, 4)), Number(value.slice(4, 6)), Number(value.slice(6, 8))];
  const day = new Date(Date.UTC(y, m - 1, d));
  return day.getUTCMonth() === m - 1 && day.getUTCDate() === d;
}

/** `YYYYMMDDTHHMMSSZ-<suffix>` in UTC. */
export function formatRunId(nowMs: number, suffix: string): string {
  const iso = new Date(nowMs).toISOString(); // 2025-01-01T02:00:00.000Z
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return `${stamp}-${suffix}`;
}

/** Six lower-case hex digits from a random source in [0, 1). */
export function randomSuffix(random: () => number): string {
  return Math.floor(random() * 0x1000000)
    .toString(16)
    .padStart(6, '0');
}

/** DNS-1123 Job and ConfigMap names, ≤ 63 characters, unique per run. */
export function resourceNames(scenario: string, runId: string): { job: string; configMap: string } {
  const id = runId.toLowerCase();
  const suffix = '-cfg';
  const room = 63 - 'ib-'.length - 1 - id.length - suffix.length;
  let slug = scenario
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, Math.max(0, room))
    .replace(/^-+|-+$/g, '');
  if (slug === '') slug = 'run';
  const job = `ib-${slug}-${id}`;
  return { job, configMap: `${job}${suffix}` };
}
