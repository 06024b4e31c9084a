import { messageContent } from '../tokenizer/index.ts';

/**
 * The simulator's tokenizer: deterministic and word-level, so a client can build a prompt of exactly
 * N tokens without a model file, and check the count through `/tokenize` like it would with vLLM.
 *
 * - A token is a whitespace-separated word. A completion prompt of N words is N tokens (no BOS).
 * - A chat prompt is Σ words of every message's content + {@link chatTokensPerMessage} per message
 *   + {@link chatTokensFixed} (a fixed "chat template": `<|im_start|> role … <|im_end|> \n` per
 *   message, then `<|im_start|> assistant \n` as the generation prompt).
 * - Token ids: the index in a fixed vocabulary of plain lowercase words; the template's special
 *   tokens follow it; any other word gets the next free id the first time it is seen, remembered by
 *   the tokenizer instance so `/detokenize` can map it back.
 */

export const chatTokensPerMessage = 4;
export const chatTokensFixed = 3;
export const defaultVocabularySize = 2000;

const imStart = '<|im_start|>';
const imEnd = '<|im_end|>';
const newline = '\n';

/** A chat message as the OpenAI API sends it; only the text parts of `content` count. */
export interface ChatMessageLike {
  role: string;
  content?: string | ReadonlyArray<{ type?: string; text?: string | null }> | null;
}

/** Words of a text: whitespace-separated, empty strings dropped. */
export function splitWords(text: string): string[] {
  return text.split(/\s+/).filter((w) => w.length > 0);
}

export function countWords(text: string): number {
  return splitWords(text).length;
}

/** A message's text for the word tokenizer: its parts joined by a space, so they stay separate words. */
export function messageText(message: ChatMessageLike): string {
  return messageContent(message, ' ');
}

/** The chat prompt length rule (what `usage.prompt_tokens` and `/tokenize` with messages report). */
export function chatPromptTokens(messages: readonly ChatMessageLike[]): number {
  let n = chatTokensFixed;
  for (const m of messages) n += countWords(messageText(m)) + chatTokensPerMessage;
  return n;
}

/** A chat prompt's tokens as words, laid out like {@link WordTokenizer.encodeChat}; as many as {@link chatPromptTokens}. */
export function chatWords(messages: readonly ChatMessageLike[]): string[] {
  const out: string[] = [];
  for (const m of messages) {
    out.push(imStart, m.role);
    for (const w of splitWords(messageText(m))) out.push(w);
    out.push(imEnd, newline);
  }
  out.push(imStart, 'assistant', newline);
  return out;
}

/**
 * `size` distinct lowercase words of two or three consonant-vowel syllables, in a fixed shuffled
 * order (so generated text looks varied rather than alphabetical). Pure: same size, same list.
 */
export function buildVocabulary(size = defaultVocabularySize): string[] {
  const consonants = 'bcdfghjklmnprstvz';
  const vowels = 'aeiou';
  const syllables: string[] = [];
  for (const c of consonants) for (const v of vowels) syllables.push(c + v);
  // Every syllable is two letters, so concatenations are unique words.
  const words: string[] = [];
  for (const a of syllables) for (const b of syllables) words.push(a + b);
  if (size > words.length) for (const a of syllables) for (const b of syllables) for (const c of syllables) words.push(a + b + c);
  if (size > words.length) throw new RangeError(`vocabulary size ${size} exceeds the ${words.length} words this generator makes`);
  // Fisher–Yates with a fixed-seed xorshift, then keep the first `size`.
  let s = 0x9e3779b9;
  const next = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x1_0000_0000;
  };
  for (let i = words.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [words[i], words[j]] = [words[j]!, words[i]!];
  }
  return words.slice(0, size);
}

export class UnknownTokenError extends RangeError {
  constructor(readonly tokenId: number) {
    super(`Token id ${tokenId} is out of vocabulary`);
    this.name = 'UnknownTokenError';
  }
}

export class WordTokenizer {
  private readonly vocabulary: readonly string[];
  private readonly specials: readonly string[] = [imStart, imEnd, newline];
  private readonly ids = new Map<string, number>();
  private readonly extraWords: string[] = [];

  constructor(vocabulary: readonly string[] = buildVocabulary()) {
    this.vocabulary = vocabulary;
    vocabulary.forEach((w, i) => this.ids.set(w, i));
    this.specials.forEach((w, i) => this.ids.set(w, vocabulary.length + i));
  }

  /** Number of plain vocabulary words (ids 0 .. size − 1); generated text uses only these. */
  get vocabularySize(): number {
    return this.vocabulary.length;
  }

  /** The vocabulary word with this index (0 ≤ index < vocabularySize). */
  word(index: number): string {
    const w = this.vocabulary[index];
    if (w === undefined) throw new UnknownTokenError(index);
    return w;
  }

  /** Completion prompt → ids, one per word. Unknown words get a stable id above the vocabulary. */
  encode(text: string): number[] {
    return splitWords(text).map((w) => this.idOf(w));
  }

  /** Chat messages → ids laid out by the fixed template; length === chatPromptTokens(messages). */
  encodeChat(messages: readonly ChatMessageLike[]): number[] {
    const start = this.idOf(imStart);
    const end = this.idOf(imEnd);
    const nl = this.idOf(newline);
    const out: number[] = [];
    for (const m of messages) {
      out.push(start, this.idOf(m.role), ...this.encode(messageText(m)), end, nl);
    }
    out.push(start, this.idOf('assistant'), nl);
    return out;
  }

  /** The text of each id; throws {@link UnknownTokenError} for an id never issued. */
  tokenStrings(ids: readonly number[]): string[] {
    return ids.map((id) => {
      const v = this.vocabulary.length;
      const w = id < v ? this.vocabulary[id] : id < v + this.specials.length ? this.specials[id - v] : this.extraWords[id - v - this.specials.length];
      if (w === undefined || !Number.isInteger(id)) throw new UnknownTokenError(id);
      return w;
    });
  }

  /** Ids → words joined by single spaces (whitespace is normalised, as a round trip shows). */
  decode(ids: readonly number[]): string {
    return this.tokenStrings(ids).join(' ');
  }

  private idOf(word: string): number {
    const known = this.ids.get(word);
    if (known !== undefined) return known;
    const id = this.vocabulary.length + this.specials.length + this.extraWords.length;
    this.extraWords.push(word);
    this.ids.set(word, id);
    return id;
  }
}
