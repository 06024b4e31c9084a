import type { TokenDistribution } from '../core/scenario/resolve.ts';
import { InputError } from '../core/errors.ts';
import { itemRng } from '../core/random.ts';
import { words } from './words.ts';

/** How many tokens a prompt is, as the target counts it (chat templates included). */
export type TokenCounter = (prompt: string) => Promise<number>;

/** The words prompts are made of: by default runner/words.ts; usage probes narrow them and fix the first. */
export interface Vocabulary {
  words?: readonly string[];
  first?: string;
}

/** Draws one length from a token distribution (seeded). */
export function sampleLength(d: TokenDistribution, random: () => number): number {
  if (d.kind === 'fixed') return d.value;
  if (d.kind === 'uniform') return d.min + Math.floor(random() * (d.max - d.min + 1));
  // Box–Muller, clamped to [min, max].
  const u = Math.max(random(), Number.MIN_VALUE);
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return Math.min(d.max, Math.max(d.min, Math.round(d.mean + d.stdDev * z)));
}

/**
 * Makes a prompt of exactly `tokens` tokens by the target's own count: random common words (so no
 * two prompts share a prefix and the server's prefix cache cannot shorten TTFT), then words are
 * added or removed until the count is exact. Fails loudly when the count cannot be hit.
 */
export async function calibratedPrompt(tokens: number, random: () => number, count: TokenCounter, overhead: number, vocabulary: Vocabulary = {}): Promise<string> {
  const pool = vocabulary.words ?? words;
  const draw = (): string => pool[Math.floor(random() * pool.length)]!;
  const head = vocabulary.first === undefined ? [] : [vocabulary.first];
  const list = [...head, ...Array.from({ length: Math.max(1, tokens - overhead - head.length) }, draw)];
  const min = head.length + 1;
  for (let attempt = 0; attempt < 40; attempt++) {
    const n = await count(list.join(' '));
    if (n === tokens) return list.join(' ');
    // Words added or removed by the tokens a word has cost so far (a tokenizer that splits some
    // words makes one word worth more than one token): far off, the step closes most of the gap at
    // once; near the target it is one word, and a word that tokenizes to several is swapped.
    const perWord = Math.max(1, (n - overhead) / list.length);
    const step = Math.max(1, Math.round(Math.abs(tokens - n) / perWord));
    if (n > tokens) {
      if (list.length <= min) break;
      list.splice(Math.max(min, list.length - step));
    } else {
      for (let i = 0; i < step; i++) list.push(draw());
    }
    if (Math.abs(tokens - n) <= 2 && attempt >= 4) list[list.length - 1] = draw();
  }
  throw new InputError(
    'prompt calibration',
    [`could not build a prompt of exactly ${tokens} tokens with the target's tokenizer`],
    'check that the target tokenizes plain English text, or lower data.input_distribution.',
  );
}

export interface PromptPlan {
  prompt: string;
  promptTokens: number;
  maxTokens: number;
}

/** Random streams of one request's plan (its lengths and its words). */
const LENGTHS = 1;
const WORDS = 2;

export interface PlanOptions {
  onProgress?: (done: number) => void;
  /** Ctrl-C / SIGTERM: calibration stops between prompts and planPrompts throws `signal.reason`. */
  signal?: AbortSignal;
  /** The target's context length: a request whose prompt and output cannot fit is refused before calibration. */
  maxModelLen?: number | null;
  /** The words to draw from (token-counters.ts). */
  vocabulary?: Vocabulary;
}

/**
 * Prepares the prompts of the given schedule positions (`seqs`: this shard's slice) before the run
 * starts, so no tokenizer call or string building happens inside the load loop. Each position's
 * lengths and words come from its own seeded stream, so a shard plans only its own requests and
 * gets exactly the prompts a single pod would have sent them. Calibration calls run a few at a time.
 * `emit` receives the plans in the order of `seqs` (it may be async: a file's backpressure).
 * `seqs` is iterated twice (lengths are checked against the model before any calibration).
 */
export async function calibratePrompts(
  seqs: Iterable<number>,
  input: TokenDistribution,
  output: TokenDistribution,
  seed: number,
  count: TokenCounter,
  emit: (plan: PromptPlan) => void | Promise<void>,
  o: PlanOptions = {},
): Promise<void> {
  const lengthsOf = (seq: number): { inputTokens: number; maxTokens: number } => {
    const rng = itemRng(seed, seq, LENGTHS);
    const inputTokens = sampleLength(input, rng);
    return { inputTokens, maxTokens: sampleLength(output, rng) };
  };
  // Lengths first (cheap, no server): a request that cannot fit the model is refused before any calibration.
  if (o.maxModelLen) checkFits(seqs, lengthsOf, o.maxModelLen);
  let overhead: number | null = null;
  let done = 0;
  // In batches, so plans leave in order and memory holds one batch, however long the run.
  let batch: number[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    // Tokens the target adds around any prompt (BOS, chat template), measured once on a 1-word prompt.
    overhead ??= Math.max(0, (await count(o.vocabulary?.first ?? words[0]!)) - 1);
    const plans: PromptPlan[] = new Array(batch.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < batch.length) {
        o.signal?.throwIfAborted();
        const i = next++;
        const seq = batch[i]!;
        const { inputTokens, maxTokens } = lengthsOf(seq);
        const prompt = await calibratedPrompt(inputTokens, itemRng(seed, seq, WORDS), count, overhead!, o.vocabulary);
        plans[i] = { prompt, promptTokens: inputTokens, maxTokens };
        done += 1;
        if (o.onProgress && done % 100 === 0) o.onProgress(done);
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, batch.length) }, worker));
    for (const plan of plans) await emit(plan);
    batch = [];
  };
  for (const seq of seqs) {
    batch.push(seq);
    if (batch.length === 256) await flush();
  }
  await flush();
}

/** The plans of `seqs`, in memory (the warm-up's one prompt, tests). */
export async function planPrompts(
  seqs: readonly number[],
  input: TokenDistribution,
  output: TokenDistribution,
  seed: number,
  count: TokenCounter,
  o: PlanOptions = {},
): Promise<PromptPlan[]> {
  const plans: PromptPlan[] = [];
  await calibratePrompts(seqs, input, output, seed, count, (p) => void plans.push(p), o);
  return plans;
}

function checkFits(seqs: Iterable<number>, lengthsOf: (seq: number) => { inputTokens: number; maxTokens: number }, maxModelLen: number): void {
  let over = 0;
  let all = 0;
  let longest = { inputTokens: 0, maxTokens: 0 };
  for (const seq of seqs) {
    const l = lengthsOf(seq);
    all += 1;
    if (l.inputTokens + l.maxTokens <= maxModelLen) continue;
    over += 1;
    if (l.inputTokens + l.maxTokens > longest.inputTokens + longest.maxTokens) longest = l;
  }
  if (over === 0) return;
  throw new InputError(
    'data.input_distribution / data.output_distribution',
    [
      `${over} of ${all} planned requests (the warm-up included) need more tokens than the model's context (max_model_len ${maxModelLen}); the longest is ${longest.inputTokens} prompt + ${longest.maxTokens} output tokens. The server would reject them (or stop early), and the run would measure errors, not latency`,
    ],
    `lower the distributions' max (or mean) so prompt + output fits in ${maxModelLen} tokens, or serve the model with a longer --max-model-len.`,
  );
}
