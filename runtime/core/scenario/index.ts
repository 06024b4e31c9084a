export * from './schema.ts';
export * from './presets.ts';
export * from './load.ts';
export * from './resolve.ts';
export * from './layers.ts';
export * from './validity-rules.ts';
export * from './schedule.ts';
export * from './work-limits.ts';
