export * from './definitions.ts';
export * from './histogram.ts';
export * from './summary.ts';
export * from './accumulator.ts';
export * from './validity.ts';
