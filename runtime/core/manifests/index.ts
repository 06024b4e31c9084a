export * from './labels.ts';
export * from './paths.ts';
export * from './runner-config.ts';
export * from './resources.ts';
export * from './job.ts';
