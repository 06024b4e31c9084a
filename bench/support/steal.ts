import { formatSteal } from '../../runtime/timing/cpu-steal.ts';

export { openStealWindow } from '../../runtime/timing/cpu-steal.ts';

/** "1.2 %", or "–" where the machine has no /proc/stat. */
export const stealPercent = (share: number | null): string => (share === null ? '–' : formatSteal(share));
