/**
 * Meaning of one SSE `data` payload of an OpenAI-compatible stream (completions or chat), following
 * vLLM's wire format: only events that carry content count as tokens — never the chat role chunk
 * (`delta: {role, content: ""}`), the usage-only chunk (`choices: []`), `[DONE]`, or blanks.
 */
export type StreamEvent =
  | { kind: 'done' }
  | { kind: 'chunk'; content: boolean; finish: string | null; usage: Usage | null }
  | { kind: 'error'; message: string }
  | { kind: 'invalid'; message: string };

export interface Usage {
  promptTokens: number | null;
  completionTokens: number | null;
}

export function interpretEvent(data: string): StreamEvent {
  if (data === '[DONE]') return { kind: 'done' };
  let obj: unknown;
  try {
    obj = JSON.parse(data);
  } catch {
    return { kind: 'invalid', message: `event is not JSON: ${truncate(data)}` };
  }
  if (!isObject(obj)) return { kind: 'invalid', message: `event is not a JSON object: ${truncate(data)}` };
  if (obj.error !== undefined && obj.error !== null) return { kind: 'error', message: errorMessage(obj.error) };
  // Older vLLM put error fields at the top level with "object": "error".
  if (obj.object === 'error') return { kind: 'error', message: errorMessage(obj) };
  const choices = Array.isArray(obj.choices) ? obj.choices : [];
  let content = false;
  let finish: string | null = null;
  for (const choice of choices) {
    if (!isObject(choice)) continue;
    if (hasContent(choice)) content = true;
    if (typeof choice.finish_reason === 'string') finish = choice.finish_reason;
  }
  return { kind: 'chunk', content, finish, usage: usageOf(obj.usage) };
}

function hasContent(choice: Record<string, unknown>): boolean {
  if (typeof choice.text === 'string' && choice.text.length > 0) return true;
  // vLLM ≥ 0.10.2 can return token ids: a chunk holding tokens with empty text (the detokenizer
  // waiting for a whole UTF-8 character) still carries content.
  if (Array.isArray(choice.token_ids) && choice.token_ids.length > 0) return true;
  const delta = choice.delta;
  if (!isObject(delta)) return false;
  for (const key of ['content', 'reasoning_content', 'reasoning'] as const) {
    const v = delta[key];
    if (typeof v === 'string' && v.length > 0) return true;
  }
  return false;
}

export function usageOf(u: unknown): Usage | null {
  if (!isObject(u)) return null;
  const int = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null);
  return { promptTokens: int(u.prompt_tokens), completionTokens: int(u.completion_tokens) };
}

export function errorMessage(e: unknown): string {
  if (typeof e === 'string') return e;
  if (isObject(e)) {
    const msg = typeof e.message === 'string' ? e.message : JSON.stringify(e);
    const type = typeof e.type === 'string' ? `${e.type}: ` : '';
    return `${type}${msg}`;
  }
  return JSON.stringify(e);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function truncate(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
