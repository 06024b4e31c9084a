export * from './context.ts';
export * from './entry.ts';
export * from './comparison.ts';
export * from './read-entry.ts';
export * from './trend.ts';
export * from './notice.ts';
