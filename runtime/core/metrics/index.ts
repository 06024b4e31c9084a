export * from './definitions.ts';
export * from './latency-histogram.ts';
export * from './accumulator.ts';
