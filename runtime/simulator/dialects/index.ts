import type { Dialect, DialectName } from './dialect.ts';
import { llamacpp } from './llamacpp.ts';
import { ollama } from './ollama.ts';
import { sglang } from './sglang.ts';
import { tgi } from './tgi.ts';
import { trtllm } from './trtllm.ts';
import { vllm } from './vllm.ts';

export { dialectNames, type Dialect, type DialectName } from './dialect.ts';

const dialects: Record<DialectName, Dialect> = { vllm, sglang, tgi, trtllm, llamacpp, ollama };

export function dialectOf(name: DialectName): Dialect {
  return dialects[name];
}
