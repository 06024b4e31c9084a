import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', 'results/', 'dist/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // core must stay pure: no process.env outside entry points (DESIGN.md §2)
      'no-restricted-syntax': 'off',
    },
  },
  {
    files: ['runtime/core/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', 'process', 'fetch', 'setTimeout', 'setInterval'],
      'no-restricted-imports': ['error', { patterns: ['node:*', '../../runner/*', '../../aws/*', '@aws-sdk/*', 'undici'] }],
    },
  },
);
