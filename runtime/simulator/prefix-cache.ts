import { createHash } from 'node:crypto';

/**
 * vLLM V1's automatic prefix caching, as far as it shapes latency and `/metrics`. Pure: time is an
 * argument, nothing is read or written outside the instance.
 *
 * Read from vLLM's source (vllm-project/vllm):
 * - `vllm/v1/core/kv_cache_utils.py` (`hash_block_tokens`, `hash_request_tokens`): the prompt is cut
 *   into blocks of `block_size` tokens (16 by default on GPUs); only full blocks are hashed, each hash
 *   taken over the parent block's hash and the block's token ids — so a block matches only when the
 *   whole prefix up to it matches.
 * - `vllm/v1/core/kv_cache_manager.py` `get_computed_blocks` (commit 003df29 as stored): the hit is
 *   the longest run of leading blocks found in the cache, with `max_cache_hit_length =
 *   request.num_tokens - 1` ("When all tokens hit the cache, we must recompute the last token to
 *   obtain logits"): a prompt of exactly k full blocks hits at most k − 1 of them. Its stats count
 *   `queries += request.num_tokens`, `hits += num_new_computed_tokens` — tokens, not blocks — and
 *   nothing at all when caching is disabled.
 * - `KVCacheManager.free` ("we free the blocks in reverse order so that the tail blocks are evicted
 *   first"): a finished request's blocks stay cached until evicted, least recently used first, and a
 *   prompt's head outlives its tail.
 *
 * Not modelled: caching of generated (decode) blocks, the blocks held by running requests counting
 * against the capacity, and any sharing between processes — with `--workers N` each worker is an
 * independent replica with its own cache (see cluster.ts).
 */

/** vLLM's default KV-cache block size in tokens (`--block-size` 16 on CUDA). */
export const prefixCacheBlockSize = 16;

/** One prompt token as the cache sees it: an id (real tokenizers, token-id prompts) or a word (the words tokenizer). */
export type PromptToken = number | string;

/**
 * The chained hashes of `tokens`' full blocks, in order (a trailing partial block has none).
 * `salt` starts the chain (vLLM's extra keys: here the served model, so two served names share nothing).
 */
export function blockHashes(tokens: readonly PromptToken[], salt = '', blockSize = prefixCacheBlockSize): string[] {
  const hashes: string[] = [];
  let parent = salt;
  for (let end = blockSize; end <= tokens.length; end += blockSize) {
    parent = createHash('sha256').update(parent).update('\u0000').update(JSON.stringify(tokens.slice(end - blockSize, end))).digest('base64');
    hashes.push(parent);
  }
  return hashes;
}

/**
 * The cached blocks: hash → when its KV is computed (end of the prefill that filled it), in LRU
 * order (a Map keeps insertion order; a touched block is moved to the end). Bounded by
 * `capacityBlocks`; 0 disables caching (nothing is looked up, counted or kept).
 */
export class PrefixCache {
  private readonly blocks = new Map<string, number>();

  constructor(
    readonly capacityBlocks: number,
    readonly blockSize = prefixCacheBlockSize,
  ) {}

  get enabled(): boolean {
    return this.capacityBlocks > 0;
  }

  /** Blocks held now. */
  get size(): number {
    return this.blocks.size;
  }

  /**
   * Prompt tokens of a request scheduled at `now` that come from the cache: its leading blocks
   * cached and computed by `now`, capped so that at least one prompt token is computed.
   */
  lookup(hashes: readonly string[], promptTokens: number, now: number): number {
    if (!this.enabled) return 0;
    const maxBlocks = Math.min(hashes.length, Math.floor((promptTokens - 1) / this.blockSize));
    let hit = 0;
    while (hit < maxBlocks) {
      const readyAt = this.blocks.get(hashes[hit]!);
      if (readyAt === undefined || readyAt > now) break;
      hit++;
    }
    this.touch(hashes.slice(0, hit));
    return hit * this.blockSize;
  }

  /** The request's full blocks are cached from `readyAt` on (its prefill's end); the LRU ones beyond capacity go. */
  insert(hashes: readonly string[], readyAt: number): void {
    if (!this.enabled) return;
    for (const h of hashes) {
      const known = this.blocks.get(h);
      if (known === undefined || readyAt < known) this.blocks.set(h, readyAt);
    }
    this.touch(hashes);
    for (const oldest of this.blocks.keys()) {
      if (this.blocks.size <= this.capacityBlocks) break;
      this.blocks.delete(oldest);
    }
  }

  /** Most recently used, tail first: a prefix's head is the last of its blocks to be evicted. */
  private touch(hashes: readonly string[]): void {
    for (let i = hashes.length - 1; i >= 0; i--) {
      const h = hashes[i]!;
      const readyAt = this.blocks.get(h);
      if (readyAt === undefined) continue;
      this.blocks.delete(h);
      this.blocks.set(h, readyAt);
    }
  }
}
