import * as wire from '../wire.ts';
import { json, maxTokensWithChatAlias, openAiId, type Dialect } from './dialect.ts';

/**
 * vLLM — the simulator's own dialect, byte for byte as before dialects existed: the frames are
 * wire.ts's (read from vllm-project/vllm `vllm/entrypoints/openai/completion/serving.py`,
 * `chat_completion/serving.py`, `completion/protocol.py`; see /work/shared/reference/vllm-wire-format.md),
 * and its endpoints (`/v1/models`, `/version`, `/tokenize`, `/detokenize`, `/health`, `/metrics`)
 * are served by server.ts itself. An EOS finish is vLLM's: the last chunk has `text: ""` and
 * `finish_reason: "stop"`, the EOS token counted in `completion_tokens`.
 */
export const vllm: Dialect = {
  name: 'vllm',
  headers: {},
  sseContentType: 'text/event-stream; charset=utf-8',
  jsonContentType: 'application/json',
  honoursIgnoreEos: true,
  hasMinTokens: true,
  checksModel: true,
  streamOptionsNeedStream: true,
  includeUsageDefault: true,
  completionPromptIsChat: false,
  id: openAiId,
  maxTokens: maxTokensWithChatAlias,
  streamFrames: (p) => wire.streamFrames(p.c, p.text, p.index, p.last, p.completionSoFar, p.finish),
  streamEnd: (c, completionTokens, _finish, includeUsage) => [...(includeUsage ? [wire.sse(wire.usageChunk(c, completionTokens))] : []), wire.DONE_FRAME],
  response: (c, text, completionTokens, finish) =>
    JSON.stringify(c.endpoint === 'chat' ? wire.chatResponse(c, text, completionTokens, finish) : wire.completionResponse(c, text, completionTokens, finish)),
  error: (message, status) => ({ status, contentType: 'application/json', body: wire.errorBody(message, status) }),
  notFound: () => json(404, { detail: 'Not Found' }),
  route: () => undefined,
};
