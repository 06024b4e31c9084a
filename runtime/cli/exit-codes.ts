/**
 * Exit codes: 0 valid, 1 a bug, a failed workflow or results that could not be stored, 2 a user's
 * mistake, 3 a run that is not a valid baseline, 4 a regression (`compare`), 130 interrupted.
 */
export const EXIT = { ok: 0, bug: 1, failed: 1, usage: 2, invalid: 3, regressed: 4, interrupted: 130 } as const;
