/**
 * The process clock in the project's one unit: epoch milliseconds as a float with µs resolution,
 * monotonic within the process. Everything that timestamps takes a `Clock` so tests
 * and the pure core can inject one.
 */
export type Clock = () => number;

const origin = performance.timeOrigin;

export const systemClock: Clock = () => origin + performance.now();
