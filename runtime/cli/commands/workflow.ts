import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../../core/errors.ts';
import { REPORT_FILE, SUMMARY_FILE } from '../../core/run-layout.ts';
import { flagLayer, layerConfig, presetConfig } from '../../core/scenario/index.ts';
import type { LocalStack } from '../../core/ports/local-stack.ts';
import type { Summary } from '../../core/summary/schema.ts';
import { exportExecution, NOTICES_FILE, seedHistory } from '../../local/export.ts';
import { RESULTS_BUCKET } from '../../local/environment.ts';
import { LOCAL_POLL_SECONDS, LocalWorkflow } from '../../local/workflow.ts';
import { EXIT } from '../exit-codes.ts';
import { formatSummary } from '../table.ts';

export interface WorkflowCommandOptions {
  target?: string;
  model?: string;
  scenario?: string;
  runner?: string;
  duration?: number;
  rate?: number;
  seed?: number;
  /** `load.num_workers` of the runner pod. */
  workers?: number;
  /** Execution input as JSON (merged under the flags). */
  input?: string;
  out: string;
}

export interface WorkflowCommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  interrupt: AbortSignal;
  stack: LocalStack;
}

/**
 * `inference-baseline workflow`: the product's main path on this machine — the state machine CDK
 * synthesizes, run locally against the simulator (or --target), the runner bundle in a local Job,
 * S3's rules, the real Lambda handlers — ending with the run's files in `<out>/<runId>/`.
 */
export async function workflowCommand(o: WorkflowCommandOptions, io: WorkflowCommandIo): Promise<number> {
  const input = executionInput(o);
  const say = (line: string): void => void io.stderr.write(`${line}\n`);
  say(`local workflow: the state machine \`cdk synth\` produces, run by aws-local-stepfunctions against ${o.target ?? 'the built-in simulator'}; the Job runs here as a local process.`);
  say(`(the only differences from AWS: the Job is polled every ${LOCAL_POLL_SECONDS} s instead of 30 s, and retries wait 0.1 s)`);
  const wf = await LocalWorkflow.start({
    stack: io.stack,
    ...(o.target ? { target: o.target } : {}),
    config: { ...(o.model ? { modelName: o.model } : {}) },
    onProgress: say,
    onPodLog: (pod, line) => {
      // The runner's status lines and notes (JSON off a terminal) and its errors; not its table.
      if (line.startsWith('{') || /^(error|internal error|runner bundle|runner bootstrap)/.test(line)) say(`    ${pod.replace(/-[a-z0-9]{5}$/, '')}: ${line}`);
    },
  });
  try {
    const seeded = await seedHistory(wf.env, RESULTS_BUCKET, o.out);
    if (seeded > 0) say(`history: ${seeded} earlier run(s) from ${join(o.out, 'history')} (the comparison's window)`);
    const record = await wf.execute({ input, signal: io.interrupt });
    const dir = await exportExecution(wf.env, record, o.out);
    if (record.reaper) say(`reaper: ${record.reaper.status} (${record.reaper.states.join(' → ')})`);
    if (record.status !== 'SUCCEEDED') {
      io.stderr.write(`\n${record.status}${record.error ? `: ${record.error.error}\n${record.error.cause}` : ''}\nexecution: ${join(dir, 'execution.json')}\n`);
      if (record.status === 'ABORTED') return EXIT.interrupted;
      return record.error?.error === 'InvalidInput' || record.error?.error === 'RunInProgress' ? EXIT.usage : EXIT.bug;
    }
    const summary = JSON.parse(await readFile(join(dir, SUMMARY_FILE), 'utf8')) as Summary;
    io.stdout.write(`${formatSummary(summary)}\nresults: ${dir}\nreport:  ${join(dir, REPORT_FILE)}\n`);
    if (record.notices.length > 0) io.stdout.write(`notice:  ${join(dir, NOTICES_FILE)} (what the alarms' topic would have received)\n`);
    return summary.validity.valid ? EXIT.ok : EXIT.invalid;
  } finally {
    await wf.stop();
  }
}

/** The execution input the flags describe, over `--input` (the flags win). */
export function executionInput(o: WorkflowCommandOptions): Record<string, unknown> {
  let base: Record<string, unknown> = {};
  if (o.input !== undefined) {
    try {
      base = JSON.parse(o.input) as Record<string, unknown>;
    } catch (err) {
      throw new InputError('--input', [`is not valid JSON: ${(err as Error).message}`], 'pass a JSON object, e.g. --input \'{"runner":"inference-perf"}\'.');
    }
    if (base === null || typeof base !== 'object' || Array.isArray(base)) throw new InputError('--input', ['must be a JSON object'], 'pass e.g. --input \'{}\'.');
  }
  const scenario = o.scenario ?? (typeof base.scenario === 'string' ? base.scenario : 'baseline');
  const input: Record<string, unknown> = { ...base, ...(o.scenario ? { scenario: o.scenario } : {}), ...(o.runner ? { runner: o.runner } : {}) };
  if (o.rate !== undefined || o.duration !== undefined || o.seed !== undefined || o.workers !== undefined) {
    const layer = flagLayer(presetConfig(scenario), { rate: o.rate, duration: o.duration, seed: o.seed, workers: o.workers });
    input.overrides = layerConfig(base.overrides ?? {}, layer);
  }
  if (o.model) input.target = { ...((base.target as Record<string, unknown> | undefined) ?? {}), modelName: o.model };
  return input;
}
