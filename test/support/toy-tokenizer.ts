import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { words } from '../../runtime/runner/words.ts';

/**
 * A small, real byte-level BPE tokenizer (Hugging Face `tokenizer.json` format) that is *not* one
 * token per word: words of ≤ 4 letters are whole tokens (with and without their leading space),
 * longer words are split into runs of 4 letters (5–8 letters → 2 tokens, 9–12 → 3): the
 * pre-tokenizer splits letter runs at four, and `ignore_merges` takes a listed piece whole. Over the
 * runner's prompt words (runtime/runner/words.ts) that is ≈ 1.47 tokens per word. Any other text
 * still encodes (every byte is in the vocabulary). ChatML's `<|endoftext|>`, `<|im_start|>` and
 * `<|im_end|>` are special added tokens, so chat templates count as they do with Qwen.
 *
 * Use: `writeToyTokenizer(dir)` → the path of `tokenizer.json` (its `tokenizer_config.json` is
 * written beside it); load it with `tokenizerFromFiles(path)` or pass it as the simulator's
 * `tokenizer`. Built in memory from `words`, so nothing is downloaded.
 */
export function writeToyTokenizer(dir: string): string {
  const path = join(dir, 'tokenizer.json');
  writeFileSync(path, JSON.stringify(toyTokenizerJson()));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(toyTokenizerConfig()));
  return path;
}

/** Letters per whole-word token; longer words are split into pieces of at most this many. */
export const TOY_PIECE_LETTERS = 4;

/** The pieces a word is built from (the first with its leading space when the word follows one). */
export function toyPieces(word: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < word.length; i += TOY_PIECE_LETTERS) out.push(word.slice(i, i + TOY_PIECE_LETTERS));
  return out;
}

/**
 * The pre-tokenizer's split: runs of at most four letters (with the space before them), other
 * symbols, whitespace — GPT-2's pattern with letter runs capped at four.
 */
const TOY_SPLIT = ` ?[A-Za-z]{1,${TOY_PIECE_LETTERS}}| ?[0-9]+| ?[^\\sA-Za-z0-9]+|\\s+(?!\\S)|\\s+`;

/** GPT-2's byte → printable character table (byte-level BPE's alphabet). */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const table: string[] = [];
  bs.forEach((b, i) => (table[b] = String.fromCharCode(cs[i]!)));
  return table;
}

export function toyTokenizerJson(): object {
  const byteChars = bytesToUnicode();
  const space = byteChars[0x20]!;
  const vocab = new Map<string, number>();
  const add = (t: string): void => {
    if (!vocab.has(t)) vocab.set(t, vocab.size);
  };
  byteChars.forEach(add);
  const tokens = new Set<string>();
  for (const w of words) {
    const pieces = toyPieces(w);
    tokens.add(pieces[0]!);
    tokens.add(space + pieces[0]!);
    for (const p of pieces.slice(1)) tokens.add(p);
  }
  // Each token is built left to right; shorter merges rank first, so a piece forms before a longer one.
  const merges: string[] = [];
  const seen = new Set<string>();
  const byLength = [...tokens].sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
  for (const t of byLength) {
    const chars = [...t];
    for (let i = 2; i <= chars.length; i++) {
      const left = chars.slice(0, i - 1).join('');
      const merged = chars.slice(0, i).join('');
      const rule = `${left} ${chars[i - 1]}`;
      if (!seen.has(rule)) {
        seen.add(rule);
        merges.push(rule);
      }
      add(merged);
    }
  }
  const specials = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
  const added = specials.map((content, i) => ({ id: vocab.size + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: TOY_SPLIT }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
      ],
    },
    post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: true,
      vocab: Object.fromEntries(vocab),
      merges,
    },
  };
}

export function toyTokenizerConfig(): object {
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    add_bos_token: false,
    add_prefix_space: false,
    bos_token: null,
    eos_token: '<|im_end|>',
    pad_token: '<|endoftext|>',
    unk_token: null,
    clean_up_tokenization_spaces: false,
    model_max_length: 32768,
    split_special_tokens: false,
  };
}
