export * from './label-selector.ts';
export * from './naming.ts';
export * from './stack-defaults.ts';
export * from './execution-input.ts';
export * from './run-spec.ts';
export * from './build.ts';
export * from './limits.ts';
