import { z } from 'zod';
import { serverTypes } from '../scenario/servers.ts';

/** What the server said of itself at preflight (`GET /version`), as run.json keeps it. */
export const ServerFacts = z.object({
  /** `GET /version` of the server (vLLM answers `{"version": "0.11.0"}`); null when it has none. */
  version: z.string().nullable(),
  /** Further facts the server reports there as flat values (the simulator: its latency model). */
  settings: z.record(z.string(), z.string()),
  /** The dialect the runner spoke (`server.type` or detected); absent from runs before it was recorded. */
  type: z.enum(serverTypes).optional(),
  /** "server.type", or what revealed the type (e.g. `GET /v1/models: owned_by "sglang"`). */
  typeFrom: z.string().optional(),
  /** How prompt tokens were counted: the server's tokenize endpoint, a client-side tokenizer, or usage probes. */
  promptTokens: z.object({ method: z.enum(['tokenize-endpoint', 'client-tokenizer', 'usage-probe']), detail: z.string() }).optional(),
});
export type ServerFacts = z.infer<typeof ServerFacts>;
