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
  },
});
