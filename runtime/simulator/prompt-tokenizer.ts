import { existsSync } from 'node:fs';
import { InputError } from '../core/errors.ts';
import { chatMLPrompt, qwen3Tokenizer, tokenizerFromFiles, type ChatMessageText, type TextTokenizer } from '../tokenizer/index.ts';
import type { PromptToken } from './prefix-cache.ts';
import { chatPromptTokens, chatWords, countWords, splitWords, UnknownTokenError, WordTokenizer } from './tokenizer.ts';

/**
 * How the simulator counts and encodes prompts (usage.prompt_tokens, `/tokenize`, prefill cost):
 * `words` (one token per word, the built-in WordTokenizer), `qwen3` (Qwen3's real tokenizer, the
 * seed model's) or a `tokenizer.json` path. Generated text always uses the word vocabulary.
 */
export interface PromptTokenizer {
  /** `words`, `qwen3`, or the path. */
  readonly name: string;
  count(text: string): number;
  countChat(messages: readonly ChatMessageText[]): number;
  encode(text: string): number[];
  encodeChat(messages: readonly ChatMessageText[]): number[];
  /**
   * The prompt's tokens as the prefix cache hashes them (`count(text)` of them): ids for a real
   * tokenizer; words for `words`, whose ids are assigned on first sight and would grow its table
   * with every prompt a long run sends.
   */
  tokens(text: string): PromptToken[];
  tokensChat(messages: readonly ChatMessageText[]): PromptToken[];
  tokenStrings(ids: readonly number[]): string[];
  /** Throws {@link UnknownTokenError} for an id it never issued / outside the vocabulary. */
  decode(ids: readonly number[]): string;
}

/** The words tokenizer: counting never grows its table (only `/tokenize` assigns ids to new words). */
class WordsPromptTokenizer implements PromptTokenizer {
  readonly name = 'words';
  private readonly words = new WordTokenizer();
  count = (text: string): number => countWords(text);
  countChat = (messages: readonly ChatMessageText[]): number => chatPromptTokens(messages);
  encode = (text: string): number[] => this.words.encode(text);
  encodeChat = (messages: readonly ChatMessageText[]): number[] => this.words.encodeChat(messages);
  tokens = (text: string): PromptToken[] => splitWords(text);
  tokensChat = (messages: readonly ChatMessageText[]): PromptToken[] => chatWords(messages);
  tokenStrings = (ids: readonly number[]): string[] => this.words.tokenStrings(ids);
  decode = (ids: readonly number[]): string => this.words.decode(ids);
}

/** A real tokenizer; chat prompts are Qwen's ChatML with the generation prompt. */
class RealPromptTokenizer implements PromptTokenizer {
  constructor(
    readonly name: string,
    private readonly t: TextTokenizer,
  ) {}
  count = (text: string): number => this.t.count(text);
  countChat = (messages: readonly ChatMessageText[]): number => this.t.count(chatMLPrompt(messages));
  encode = (text: string): number[] => this.t.encode(text);
  encodeChat = (messages: readonly ChatMessageText[]): number[] => this.t.encode(chatMLPrompt(messages));
  tokens = (text: string): PromptToken[] => this.t.encode(text);
  tokensChat = (messages: readonly ChatMessageText[]): PromptToken[] => this.t.encode(chatMLPrompt(messages));
  tokenStrings = (ids: readonly number[]): string[] => ids.map((id) => this.decode([id]));
  decode = (ids: readonly number[]): string => {
    try {
      return this.t.decode(ids);
    } catch (err) {
      if (err instanceof RangeError) throw new UnknownTokenError(ids.find((id) => !Number.isInteger(id) || id < 0) ?? Math.max(...ids));
      throw err;
    }
  };
}

/** The tokenizer a `tokenizer` option names; a path that is not a readable tokenizer is an InputError. */
export function promptTokenizer(choice: string): PromptTokenizer {
  if (choice === 'words') return new WordsPromptTokenizer();
  if (choice === 'qwen3') return new RealPromptTokenizer('qwen3', qwen3Tokenizer());
  if (!existsSync(choice)) {
    throw new InputError(`tokenizer ${choice}`, ['is neither "words", "qwen3" nor an existing file'], 'pass words, qwen3, or the path of a Hugging Face tokenizer.json (tokenizer_config.json beside it is read too).');
  }
  return new RealPromptTokenizer(choice, tokenizerFromFiles(choice));
}
