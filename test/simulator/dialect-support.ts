import { startSimulator, type DialectName, type RunningSimulator } from '../../runtime/simulator/index.ts';

/** A simulator speaking `dialect`, counting one token per word, fast. */
export function startDialect(dialect: DialectName): Promise<RunningSimulator> {
  return startSimulator({ dialect, tokenizer: 'words', ttftMs: 1, itlMs: 1, jitterMs: 0, maxModelLen: 4096 });
}

export interface Exchange {
  status: number;
  headers: Headers;
  text: string;
}

/** One request over loopback; the whole body as text. */
export async function exchange(sim: RunningSimulator, method: string, path: string, body?: unknown): Promise<Exchange> {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** SSE events as the server framed them, each with its own `data:` prefix and terminator. */
export function frames(text: string): string[] {
  return text.split(/(?<=\n\n)/).filter((f) => f.length > 0);
}

/** The JSON of a `data:` frame (with or without the space after the colon). */
export function payload(frame: string): Record<string, unknown> {
  return JSON.parse(frame.replace(/^data: ?/, '')) as Record<string, unknown>;
}

/** The generated words of a stream's frames, in order (a frame's text or delta content). */
export function contentOf(frame: string): string {
  if (/^data: ?\[DONE\]/.test(frame)) return '';
  const p = payload(frame) as { choices: Array<{ text?: string; delta?: { content?: string | null } }> };
  const c = p.choices[0];
  return c?.text ?? c?.delta?.content ?? '';
}
