export * from './record.ts';
export * from './run-manifest.ts';
