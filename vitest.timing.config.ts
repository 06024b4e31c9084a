import { defineConfig } from 'vitest/config';

/**
 * Tests that compare the runner's timestamps with the simulator's ground truth. They assert
 * agreement, not speed, but agreement within 1 ms needs a CPU that is not also running other test
 * files, so these run one file at a time, after the rest of the suite.
 */
export default defineConfig({
  test: {
    include: ['test/**/*.timing.test.ts'],
    testTimeout: 120_000,
    fileParallelism: false,
    pool: 'forks',
    // The SDK's notice that its 2027 releases need Node 22 (bin/inference-baseline.js explains);
    // no tsx compile cache for the CLI processes the tests start: the suite leaves nothing in /tmp.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', TSX_DISABLE_CACHE: '1', HF_HUB_OFFLINE: '1' },
  },
});
