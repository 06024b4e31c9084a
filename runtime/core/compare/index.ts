export * from './quantile.ts';
export * from './compare.ts';
