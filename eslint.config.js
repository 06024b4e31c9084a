import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * The layering as lint rules: each folder names the folders it must not import.
 * core imports nothing of the project; runner, simulator, aggregator and aws meet only through
 * core (its ports); nothing below cli/lambda/local imports them; bench does not lean on test/.
 * Nothing in runtime/ imports infra/: the composition roots (bin/, the tests) hand the stack to
 * runtime/local through its port (runtime/core/ports/local-stack.ts).
 */
const project = ['aggregator', 'aws', 'bootstrap', 'cli', 'lambda', 'local', 'report', 'runner', 'simulator', 'timing', 'tokenizer'];
const layerPatterns = (folders) => folders.map((f) => ({ group: [`**/${f}/*`, `**/${f}/**`], message: `this layer must not import runtime/${f}` }));
const noInfra = { group: ['**/infra/*', '**/infra/**'], message: 'runtime/ must not import infra/ (the composition root hands the stack in: runtime/core/ports/local-stack.ts)' };
/** For files under runtime/: the folders named, and infra/ always. */
const banned = (folders, extra = []) => ({ 'no-restricted-imports': ['error', { patterns: [noInfra, ...layerPatterns(folders), ...extra] }] });
const entryPoints = ['cli', 'lambda', 'local'];
const corePure = [
  { group: ['node:*'], message: 'core does no I/O' },
  { group: ['@aws-sdk/*', 'undici'], message: 'core calls no service' },
];

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', 'results/', 'dist/', 'coverage/', '.scratch/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['runtime/core/**/*.ts'],
    rules: {
      // core stays pure: no I/O, no clock, no environment.
      'no-restricted-globals': ['error', 'process', 'fetch', 'setTimeout', 'setInterval'],
      ...banned(project, corePure),
    },
  },
  // What is stored flows one way — records (run.json, shards) → summary (summary.json) → history —
  // so a stored schema never depends on what is derived from it.
  { files: ['runtime/core/records/**/*.ts'], rules: banned(project, [...corePure, ...layerPatterns(['summary', 'history'])]) },
  { files: ['runtime/core/summary/**/*.ts'], rules: banned(project, [...corePure, ...layerPatterns(['history'])]) },
  { files: ['runtime/runner/**/*.ts'], rules: banned([...entryPoints, 'aws', 'aggregator', 'simulator', 'report', 'bootstrap']) },
  { files: ['runtime/simulator/**/*.ts'], rules: banned([...entryPoints, 'aws', 'aggregator', 'runner', 'report', 'bootstrap']) },
  { files: ['runtime/aggregator/**/*.ts'], rules: banned([...entryPoints, 'aws', 'runner', 'simulator', 'timing', 'bootstrap']) },
  { files: ['runtime/aws/**/*.ts'], rules: banned([...entryPoints, 'aggregator', 'runner', 'simulator', 'report', 'timing', 'bootstrap']) },
  { files: ['runtime/report/**/*.ts', 'runtime/timing/**/*.ts', 'runtime/bootstrap/**/*.ts'], rules: banned(project.filter((f) => f !== 'timing' && f !== 'report' && f !== 'bootstrap')) },
  { files: ['runtime/tokenizer/**/*.ts'], rules: banned(project.filter((f) => f !== 'tokenizer')) },
  { files: ['runtime/lambda/**/*.ts'], rules: banned(['cli', 'local', 'runner', 'simulator']) },
  { files: ['runtime/cli/**/*.ts', 'runtime/local/**/*.ts'], rules: banned([]) },
  { files: ['infra/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: layerPatterns(project.filter((f) => f !== 'bootstrap')) }] } },
  {
    files: ['bench/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/test/*', '**/test/**'], message: 'benchmarks do not import tests' }] }] },
  },
);
