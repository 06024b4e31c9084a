/**
 * Run ids sort by time and never collide: UTC `YYYYMMDDTHHMMSSZ` + `-` + a short random suffix
 * (DESIGN.md §3). The time and the randomness are passed in, so this stays pure.
 */
export function makeRunId(now: Date, random: () => number): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  const suffix = Math.floor(random() * 0x1000000).toString(16).padStart(6, '0');
  return `${stamp}-${suffix}`;
}

export const runIdPattern = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;
