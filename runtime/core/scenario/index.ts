export * from './schema.ts';
export * from './presets.ts';
export * from './load.ts';
export * from './resolve.ts';
