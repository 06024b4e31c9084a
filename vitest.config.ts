import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Two tiers, one run (`npm test`; the timing tests follow alone, vitest.timing.config.ts):
 * - unit: no sockets, no child processes, no threads (test/support/no-io.ts refuses them) — the inner
 *   loop, `npm run test:unit`;
 * - integration: real HTTP over loopback, s3rver, the local workflow, CLI processes; the runner
 *   bundle and the synthesized stack are built once for the run (test/support/global-setup.ts).
 */
const UNIT = [
  'test/core/**/*.test.ts',
  'test/infra/**/*.test.ts',
  'test/aggregator/**/*.test.ts',
  'test/runner/{pacer,precise-timer,prompt-spool,prompts,server-detect,shard-writer,sse-parser}.test.ts',
  'test/simulator/{latency-model,tokenizer}.test.ts',
  'test/cli/workflow-input.test.ts',
  'test/local/clock.test.ts',
  'test/local/pod-security.test.ts',
  'test/layering/**/*.test.ts',
];

const shared = {
  testTimeout: 60_000,
  hookTimeout: 60_000,
  pool: 'forks' as const,
  // The SDK's notice that its 2027 releases need Node 22 (bin/inference-baseline.js explains);
  // no tsx compile cache for the CLI processes the tests start: the suite leaves nothing in /tmp.
  // No test reaches the Hugging Face hub: processes the tests start are offline (a test serving a
  // hub on loopback says so in its own HF_ENDPOINT).
  env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', TSX_DISABLE_CACHE: '1', HF_HUB_OFFLINE: '1' },
};

export default defineConfig({
  test: {
    projects: [
      { test: { ...shared, name: 'unit', include: UNIT, setupFiles: ['test/support/no-io.ts'] } },
      {
        test: {
          ...shared,
          name: 'integration',
          include: ['test/**/*.test.ts'],
          // Timing-agreement tests run alone afterwards (vitest.timing.config.ts): see that file's comment.
          exclude: [...configDefaults.exclude, ...UNIT, 'test/**/*.timing.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
    ],
  },
});
