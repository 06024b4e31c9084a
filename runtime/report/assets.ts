import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** uPlot's browser build and stylesheet, inlined into report.html so it opens offline. */
export interface ReportAssets {
  uplotJs: string;
  uplotCss: string;
}

let cached: ReportAssets | undefined;

/**
 * Reads uPlot from node_modules (the `uplot` package). A bundled Lambda must ship the package
 * (NodejsFunction `bundling.nodeModules: ['uplot']`) or pass the assets in explicitly.
 */
export function loadReportAssets(): ReportAssets {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const js = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
  const css = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
  cached = { uplotJs: js, uplotCss: css };
  return cached;
}
