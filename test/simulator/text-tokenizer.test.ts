import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../runtime/core/errors.ts';
import { words } from '../../runtime/runner/words.ts';
import { chatMLPrompt, qwen3Tokenizer, tokenizerFromFiles } from '../../runtime/tokenizer/index.ts';
import { useTempDirs } from '../support/temp-dir.ts';
import { toyPieces, writeToyTokenizer } from '../support/toy-tokenizer.ts';

const tempDir = useTempDirs('ib-tok-');

describe('runtime/tokenizer', () => {
  it("encodes with Qwen3's own ids, special tokens whole, and renders chat as vLLM does for Qwen3", () => {
    // Prepare
    const qwen = qwen3Tokenizer();
    const prompt = chatMLPrompt([{ role: 'user', content: 'hello world, the quick brown fox' }]);

    // Act
    const ids = qwen.encode(prompt);

    // Assess: <|im_start|> user \n hello ␣world , ␣the ␣quick ␣brown ␣fox <|im_end|> \n <|im_start|> assistant \n
    expect(prompt).toBe('<|im_start|>user\nhello world, the quick brown fox<|im_end|>\n<|im_start|>assistant\n');
    expect(ids).toEqual([151644, 872, 198, 14990, 1879, 11, 279, 3974, 13876, 38835, 151645, 198, 151644, 77091, 198]);
    expect(qwen.count(prompt)).toBe(15);
    expect(qwen.decode(ids)).toBe(prompt);
    expect(qwen3Tokenizer()).toBe(qwen); // loaded once per process
    expect(() => qwen.decode([10_000_000])).toThrow(RangeError);
  });

  it('the toy tokenizer is a real byte-level BPE that splits the prompt words: ≈1.5 tokens per word, not one', async () => {
    const path = writeToyTokenizer(await tempDir());
    const toy = tokenizerFromFiles(path);
    const text = words.join(' ');

    const perWord = toy.count(text) / words.length;

    expect(perWord).toBeGreaterThan(1.3);
    expect(perWord).toBeLessThan(1.6);
    expect(toy.count(' the')).toBe(1);
    expect(toy.count(' animal')).toBe(toyPieces('animal').length);
    expect(toy.count(' important')).toBe(3);
    expect(toy.decode(toy.encode(text))).toBe(text);
    for (const special of ['<|im_start|>', '<|im_end|>', '<|endoftext|>']) expect(toy.count(special)).toBe(1);
    expect(toy.count(chatMLPrompt([{ role: 'user', content: 'the house' }]))).toBe(toy.count('<|im_start|>user\nthe house<|im_end|>\n<|im_start|>assistant\n'));
  });

  it('a tokenizer file that cannot be used is one InputError naming the file and the fix', async () => {
    const dir = await tempDir();
    const notJson = join(dir, 'tokenizer.json');
    writeFileSync(notJson, 'not json');

    for (const path of [join(dir, 'missing.json'), notJson]) {
      let err: unknown;
      try {
        tokenizerFromFiles(path);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).message).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: (cannot read the file \\(ENOENT\\)|not a JSON object)`));
      expect((err as InputError).message).toContain('Fix: pass the path of a Hugging Face tokenizer.json');
    }
  });
});
