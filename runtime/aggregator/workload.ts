import { workloadFromRequest, workloadOf } from '../core/history/context.ts';
import type { Workload } from '../core/summary/context.ts';
import type { RunRequest } from '../core/records/run-manifest.ts';
import { CONFIG_FILE } from '../core/run-layout.ts';
import { parseScenarioYaml, resolveScenario } from '../core/scenario/index.ts';
import type { RunStore } from '../core/ports/run-store.ts';
import type { Summary } from '../core/summary/schema.ts';

/**
 * The run's workload from its config.yml (the runner's, or PrepareRun's in the cloud): the token
 * distributions need it. Without a readable one (an inference-perf output aggregated on its own),
 * what run.json / inference-perf's files say, with the distributions "unknown" — such a run still
 * compares with runs that were aggregated the same way.
 */
export async function readWorkload(store: RunStore, summary: Pick<Summary, 'run'>, request: RunRequest): Promise<Workload> {
  try {
    const resolved = resolveScenario(parseScenarioYaml(await store.readText(CONFIG_FILE), CONFIG_FILE));
    // The summary's identity wins over the file where they overlap (the runner may have been told otherwise by flags).
    return { ...workloadOf(resolved), api: summary.run.api, streaming: summary.run.streaming, stages: request.stages.map((s) => ({ rate: s.rate, duration: s.duration })) };
  } catch {
    return workloadFromRequest(summary, request);
  }
}
