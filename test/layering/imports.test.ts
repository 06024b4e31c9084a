import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * The layering rules of eslint.config.js, tried on probe files: runtime/ never imports infra/ (the
 * composition roots hand the stack to runtime/local through runtime/core/ports/local-stack.ts), and
 * core imports nothing of the project. `npx eslint .` runs the same rules over the tree.
 */
const eslint = new ESLint();
const problems = async (filePath: string, code: string): Promise<string[]> => {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.map((m) => m.message);
};

describe('the import direction is enforced by the linter', () => {
  it.each(['runtime/local', 'runtime/cli', 'runtime/cli/commands', 'runtime/runner', 'runtime/lambda', 'runtime/aws', 'runtime/core'])('%s/probe.ts may not import infra/', async (dir) => {
    const up = '../'.repeat(dir.split('/').length);
    expect(await problems(`${dir}/probe.ts`, `import { localStack } from '${up}infra/local-stack.ts';\nexport const x = localStack;\n`)).toEqual([
      expect.stringMatching(/runtime\/ must not import infra\//),
    ]);
  });

  it('infra/ and the composition roots may import runtime/core and infra/', async () => {
    expect(await problems('infra/probe.ts', "import { LOCAL_ENV } from '../runtime/core/ports/local-stack.ts';\nexport const x = LOCAL_ENV;\n")).toEqual([]);
    expect(await problems('test/probe.test.ts', "import { localStack } from '../infra/local-stack.ts';\nexport const x = localStack;\n")).toEqual([]);
  });

  it('core imports nothing of the project', async () => {
    expect(await problems('runtime/core/probe.ts', "import { startRunner } from '../runner/start.ts';\nexport const x = startRunner;\n")).toEqual([expect.stringMatching(/must not import runtime\/runner/)]);
  });
});
