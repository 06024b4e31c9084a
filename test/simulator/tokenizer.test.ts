import { describe, expect, it } from 'vitest';
import {
  buildVocabulary,
  chatPromptTokens,
  chatTokensFixed,
  chatTokensPerMessage,
  countWords,
  UnknownTokenError,
  WordTokenizer,
} from '../../runtime/simulator/tokenizer.ts';

describe('vocabulary', () => {
  it('is ~2,000 distinct plain lowercase words, the same every time', () => {
    const a = buildVocabulary();
    const b = buildVocabulary();

    expect(a).toHaveLength(2000);
    expect(new Set(a).size).toBe(2000);
    expect(a.every((w) => /^[a-z]+$/.test(w))).toBe(true);
    expect(b).toEqual(a);
  });
});

describe('completion prompt tokens', () => {
  it('counts whitespace-separated words, with no BOS', () => {
    expect(countWords('the quick  brown\tfox\njumps ')).toBe(5);
    expect(countWords('   ')).toBe(0);
    expect(new WordTokenizer().encode('one two three')).toHaveLength(3);
  });

  it('maps vocabulary words to their index and round-trips through decode', () => {
    const tok = new WordTokenizer();
    const words = [tok.word(0), tok.word(1999), tok.word(42)];

    const ids = tok.encode(words.join('   '));

    expect(ids).toEqual([0, 1999, 42]);
    expect(tok.decode(ids)).toBe(words.join(' '));
  });

  it('gives unknown words stable ids above the vocabulary and remembers them for decode', () => {
    const tok = new WordTokenizer();

    const first = tok.encode('Hello, World! hello');
    const again = tok.encode('World! Hello,');

    expect(first.every((id) => id >= tok.vocabularySize)).toBe(true);
    expect(new Set(first).size).toBe(3);
    expect(again).toEqual([first[1], first[0]]);
    expect(tok.decode(first)).toBe('Hello, World! hello');
  });

  it('refuses ids it never issued', () => {
    const tok = new WordTokenizer();

    expect(() => tok.decode([999_999])).toThrow(UnknownTokenError);
    expect(() => tok.decode([-1])).toThrow(UnknownTokenError);
  });
});

describe('chat prompt tokens', () => {
  const messages = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: [{ type: 'text', text: 'hello there' }, { type: 'image_url' }] },
    { role: 'assistant', content: null },
  ];

  it('is the words of every message + 4 per message + 3', () => {
    expect(chatTokensPerMessage).toBe(4);
    expect(chatTokensFixed).toBe(3);
    expect(chatPromptTokens(messages)).toBe(3 + 2 + 0 + 4 * 3 + 3);
  });

  it('is exactly what encodeChat produces, so /tokenize with messages calibrates chat prompts', () => {
    const tok = new WordTokenizer();

    const ids = tok.encodeChat(messages);

    expect(ids).toHaveLength(chatPromptTokens(messages));
    expect(tok.decode(ids).split(' ').filter((s) => s === '<|im_start|>')).toHaveLength(4);
  });
});
