import { serverDialects, type ServerType } from '../core/scenario/servers.ts';

/**
 * Which server answers, from what it says of itself (facts read from each server's source; the
 * simulator's dialects replay them):
 * - `GET /v1/models` `owned_by`: "vllm", "sglang", "tensorrt_llm", "llamacpp" name themselves;
 *   Ollama's is the model's namespace ("library"); TGI's is the model id.
 * - llama.cpp also sends `Server: llama.cpp`.
 * - TGI: `GET /info` answers `router: "text-generation-router"`.
 * - Ollama: `GET /api/version` answers `{"version"}`.
 * Anything else is `openai`: a generic OpenAI-compatible server.
 */
export interface ServerAnswers {
  /** The `data` entries of `GET /v1/models`. */
  models: ReadonlyArray<Record<string, unknown>>;
  /** The `Server` header of that answer. */
  serverHeader: string | null;
  /** `GET /info` as JSON, null when absent (asked only when /v1/models did not tell). */
  info?: Record<string, unknown> | null;
  /** `GET /api/version` as JSON, null when absent (asked only when nothing else told). */
  ollamaVersion?: Record<string, unknown> | null;
}

export interface Detected {
  type: ServerType;
  /** What told: quoted in the run's notes and run.json. */
  evidence: string;
}

const OWNERS: Record<string, ServerType> = { vllm: 'vllm', sglang: 'sglang', tensorrt_llm: 'trtllm', llamacpp: 'llamacpp' };

/** The server type /v1/models and its headers reveal, or null when more must be asked. */
export function detectFromModels(a: Pick<ServerAnswers, 'models' | 'serverHeader'>): Detected | null {
  for (const m of a.models) {
    const owner = typeof m.owned_by === 'string' ? m.owned_by : '';
    const type = OWNERS[owner];
    if (type) return { type, evidence: `GET /v1/models: owned_by "${owner}"` };
  }
  if (a.serverHeader && /llama\.cpp/i.test(a.serverHeader)) return { type: 'llamacpp', evidence: `Server header "${a.serverHeader}"` };
  return null;
}

/** The answer once /info and /api/version were asked too: never null (`openai` when nothing told). */
export function detectServer(a: ServerAnswers): Detected {
  const fromModels = detectFromModels(a);
  if (fromModels) return fromModels;
  if (a.info && a.info.router === 'text-generation-router') {
    return { type: 'tgi', evidence: `GET /info: router "text-generation-router"${typeof a.info.version === 'string' ? `, version ${a.info.version}` : ''}` };
  }
  if (a.ollamaVersion && typeof a.ollamaVersion.version === 'string') return { type: 'ollama', evidence: `GET /api/version: ${a.ollamaVersion.version}` };
  return { type: 'openai', evidence: 'none of the known servers answered as itself (GET /v1/models, /info, /api/version)' };
}

/** The model's context length where the server states it (serverDialects[type].contextLength). */
export function contextLength(type: ServerType, model: Record<string, unknown> | undefined, info: Record<string, unknown> | null | undefined): number | null {
  const positive = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : null);
  // vLLM's field is read whatever the type: a server that states it is believed.
  const own = positive(model?.max_model_len);
  if (own !== null) return own;
  switch (serverDialects[type].contextLength) {
    case 'models.meta.n_ctx': {
      const meta = model?.meta;
      return meta && typeof meta === 'object' ? positive((meta as Record<string, unknown>).n_ctx) : null;
    }
    case 'info.max_total_tokens':
      return positive(info?.max_total_tokens);
    default:
      return null;
  }
}
