import { z } from 'zod';

/** What the server said of itself at preflight (`GET /version`), as run.json keeps it. */
export const ServerFacts = z.object({
  /** `GET /version` of the server (vLLM answers `{"version": "0.11.0"}`); null when it has none. */
  version: z.string().nullable(),
  /** Further facts the server reports there as flat values (the simulator: its latency model). */
  settings: z.record(z.string(), z.string()),
});
export type ServerFacts = z.infer<typeof ServerFacts>;
