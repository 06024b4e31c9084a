import { readFileSync } from 'node:fs';

/**
 * The text of `bundle-bootstrap.cjs`, the program a stock Node image runs (`node -e`) to fetch and
 * check the runner bundle. Kept as a real, linted source file; read at run time from beside this
 * module, or beside a Lambda bundle (infra/constructs/functions.ts ships the file there).
 */
export const BUNDLE_BOOTSTRAP_FILE = 'bundle-bootstrap.cjs';

let cached: string | undefined;

export function loadBundleBootstrap(): string {
  cached ??= readFileSync(new URL(`./${BUNDLE_BOOTSTRAP_FILE}`, import.meta.url), 'utf8');
  return cached;
}
