export * from './schema.ts';
export * from './validity.ts';
export * from './finalize.ts';
export * from './timeline.ts';
export * from './report-data.ts';
export * from './published.ts';
