import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Timing-agreement tests run alone afterwards (vitest.timing.config.ts): see that file's comment.
    exclude: [...configDefaults.exclude, 'test/**/*.timing.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The SDK's notice that its 2027 releases need Node 22 (bin/inference-baseline.js explains);
    // no tsx compile cache for the CLI processes the tests start: the suite leaves nothing in /tmp.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', TSX_DISABLE_CACHE: '1' },
  },
});
