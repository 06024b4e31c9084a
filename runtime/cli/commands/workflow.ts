import { rmSync } from 'node:fs';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError, OperationFailed } from '../../core/errors.ts';
import type { QuitHook } from '../program.ts';
import { REPORT_FILE, REQUESTS_DIR, SUMMARY_FILE } from '../../core/run-layout.ts';
import { flagLayer, layerConfig, presetConfig, presetNames, SEED_MODEL } from '../../core/scenario/index.ts';
import { ServerBaseUrl } from '../../core/scenario/schema.ts';
import type { LocalStack } from '../../core/ports/local-stack.ts';
import type { Summary } from '../../core/summary/schema.ts';
import { exportExecution, exportStoredRunSync, NOTICES_FILE, seedHistory } from '../../local/export.ts';
import { RESULTS_BUCKET } from '../../local/environment.ts';
import { LOCAL_OIDC_ISSUER } from '../../local/kubernetes/web-identity.ts';
import type { ClusterAccessMode, RunnerCredentialMode } from '../../core/run-spec/index.ts';
import { preflightExecution } from '../../local/preflight.ts';
import { LOCAL_POLL_SECONDS, LocalWorkflow, type ExecutionRecord } from '../../local/workflow.ts';
import { checkTargetAnswers } from '../../runner/preflight.ts';
import { runDestination } from '../support/destination.ts';
import { fitWorkers } from '../support/workers.ts';
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
  /** The stack's clusterAccess: `vpc` makes the Kubernetes calls through KubeCall over HTTPS. */
  clusterAccess?: ClusterAccessMode;
  /** The stack's runnerCredentials: `irsa` gives the runner a web identity instead of Pod Identity. */
  runnerCredentials?: RunnerCredentialMode;
}

export interface WorkflowCommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  interrupt: AbortSignal;
  stack: LocalStack;
  /** The CPUs of this machine: the local Job's worker threads are fitted to them unless --workers says otherwise. */
  cpus: number;
  /** Set here: what a second Ctrl-C saves before the process quits. */
  quit?: QuitHook;
}

/**
 * `inference-baseline workflow`: the product's main path on this machine — the state machine CDK
 * synthesizes, run locally against the simulator (or --target), the runner bundle in a local Job,
 * S3's rules, the real Lambda handlers — ending with the run's files in `<out>/<runId>/`.
 *
 * Everything that can be checked is checked before the local cloud starts: the execution input (as
 * PrepareRun parses it), the destination (writable, the run id unused). After the run, its files
 * are never lost: if `<out>` cannot take them, they go to a kept directory the message names.
 */
/**
 * The stack settings `--cluster-access` and `--runner-credentials` stand for: the local cloud's own
 * subnets and security group for KubeCall, and its OIDC issuer for the runner role's trust.
 */
function localAccessSettings(o: Pick<WorkflowCommandOptions, 'clusterAccess' | 'runnerCredentials'>): Record<string, unknown> {
  return {
    ...(o.clusterAccess === 'vpc' ? { clusterAccess: 'vpc', vpcSubnetIds: ['subnet-00000000'], vpcSecurityGroupIds: ['sg-00000000'] } : {}),
    ...(o.runnerCredentials === 'irsa' ? { runnerCredentials: 'irsa', oidcIssuer: LOCAL_OIDC_ISSUER } : {}),
  };
}

export async function workflowCommand(o: WorkflowCommandOptions, io: WorkflowCommandIo): Promise<number> {
  const say = (line: string): void => void io.stderr.write(`${line}\n`);
  if (o.out.startsWith('s3://')) throw new InputError(`--out ${o.out}`, ['the local workflow writes its run to a directory on this machine'], 'pass a directory (created if missing); `run --out s3://…` uploads a run.');
  const input = executionInput(o);
  const workers = fitWorkers(load(input), o.workers, io.cpus);
  if (workers.count !== undefined && workers.count !== o.workers) input.overrides = layerConfig(input.overrides ?? {}, { load: { num_workers: workers.count } });
  // The user's server whenever they named one — --target, the input's target.baseUrl, or its
  // overrides.server.base_url, in PrepareRun's order — else the simulator.
  const named = namedTarget(o, input);
  const target = named?.url;
  const config = { pollIntervalSeconds: LOCAL_POLL_SECONDS, ...(o.model ? { modelName: o.model } : {}), ...localAccessSettings(o) };
  const spec = preflightExecution(io.stack, { ...config, ...(target ? { targetBaseUrl: target } : {}) }, input, Date.now());
  const inputRunId = typeof input.runId === 'string' ? input.runId : undefined;
  // The run id is decided here, as PrepareRun would decide it, so the directory can be named now.
  const runId = inputRunId ?? spec.runId;
  input.runId = runId;
  await runDestination(o.out, runId, 0, undefined, {
    input: '--input runId',
    fix: 'results of earlier runs are never overwritten: choose another runId in --input, or leave it out to get a new one.',
  }).check();
  // The Job would find an unreachable server only after the local cloud started: ask it first.
  const server = spec.config.server;
  if (target) {
    await checkTargetAnswers(target, named!.input, {
      model: server.model_name,
      modelInput: o.model ? '--model' : (input.target as { modelName?: unknown } | undefined)?.modelName !== undefined ? '--input target.modelName' : "the model (the scenario's server.model_name)",
      type: server.type ?? null,
      ignoreEos: server.ignore_eos,
      apiKey: server.api_key,
      howToTurnOffIgnoreEos: `pass --input '{"overrides":{"server":{"ignore_eos":false}}}'`,
    });
  }

  say(`target: ${named ? `${named.url} (${named.input})` : 'the built-in vLLM-compatible simulator (pass --target URL to measure a real server)'}`);
  say(`run ${runId}: results go to ${join(o.out, runId)}`);
  if (workers.note) say(workers.note);
  say('local workflow: the state machine `cdk synth` produces, run by aws-local-stepfunctions; the Job runs here as a local process.');
  if (o.clusterAccess === 'vpc') say('cluster access: vpc — the Kubernetes calls go through the KubeCall function over HTTPS (local CA, EKS token), not eks:call');
  if (o.runnerCredentials === 'irsa') say("runner credentials: irsa — the runner's web identity token is exchanged at STS for the runner role, not Pod Identity");
  say(`(the only differences from AWS: the Job is polled every ${LOCAL_POLL_SECONDS} s instead of 30 s, and retries wait 0.1 s)`);
  const wf = await LocalWorkflow.start({
    stack: io.stack,
    // The simulator serves the model the run asks for (--model), as `run`'s does.
    ...(target ? { target } : { simulator: { models: [server.model_name ?? SEED_MODEL.servedName] } }),
    config,
    onProgress: say,
    onPodLog: (pod, line) => {
      // The runner's status lines and notes (JSON off a terminal) and its errors; not its table.
      if (line.startsWith('{') || /^(error|internal error|runner bundle|runner bootstrap)/.test(line)) say(`    ${pod.replace(/-[a-z0-9]{5}$/, '')}: ${line}`);
    },
  });
  if (io.quit) {
    // A second Ctrl-C leaves no time for the S3 API: copy what the run stored from the local S3's files.
    io.quit.say = () => {
      const dir = join(o.out, runId);
      const copied = exportStoredRunSync(wf.env, spec.s3.bucket, spec.s3.prefix, runId, dir);
      rmSync(wf.env.root, { recursive: true, force: true });
      return copied > 0
        ? `quitting now (second Ctrl-C): what the run had stored (${copied} file(s); requests in flight are not recorded) is in ${dir}; aggregate it with: inference-baseline aggregate ${dir}`
        : 'quitting now (second Ctrl-C): the run had stored nothing yet.';
    };
  }
  try {
    const seeded = await seedHistory(wf.env, RESULTS_BUCKET, o.out);
    if (seeded > 0) say(`history: ${seeded} earlier run(s) from ${join(o.out, 'history')} (the comparison's window)`);
    const record = await wf.execute({ input, signal: io.interrupt });
    const dir = await exportKept(wf, record, o.out);
    if (record.reaper) say(`reaper: ${record.reaper.status} (${record.reaper.states.join(' → ')})`);
    if (record.status !== 'SUCCEEDED') {
      io.stderr.write(`\n${record.status}${record.error ? `: ${record.error.error}\n${record.error.cause}` : ''}\nexecution: ${join(dir, 'execution.json')}\n`);
      if (await measuredButNotAggregated(dir)) io.stderr.write(`what was measured is in ${dir}; aggregate it with: inference-baseline aggregate ${dir}\n`);
      else if (record.status === 'ABORTED') io.stderr.write('nothing was measured before the interruption: there is nothing to aggregate.\n');
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

/** The scenario's load section as the run will see it: the input's overrides over the preset. */
function load(input: Record<string, unknown>): { load: Record<string, unknown> } {
  const preset = presetConfig(typeof input.scenario === 'string' && presetNames.includes(input.scenario as never) ? input.scenario : 'baseline') as { load: Record<string, unknown> };
  const overridden = (input.overrides as { load?: Record<string, unknown> } | undefined)?.load ?? {};
  return { load: { ...preset.load, ...overridden } };
}

/**
 * The execution's files into `<out>/<runId>/`; if that fails after the run was measured (the
 * directory was removed, filled or made read-only meanwhile), into a kept directory the error
 * names, with the command that aggregates them — a measured run is never lost.
 */
async function exportKept(wf: LocalWorkflow, record: ExecutionRecord, out: string): Promise<string> {
  try {
    return await exportExecution(wf.env, record, out);
  } catch (err) {
    const kept = await exportExecution(wf.env, record, await mkdtemp(join(tmpdir(), 'inference-baseline-kept-')));
    throw new OperationFailed(
      `the run was measured but its files could not be written under ${out}: ${(err as Error).message}\nThey are kept in ${kept}; aggregate them there with: inference-baseline aggregate ${kept} (or move the directory under your results first)`,
    );
  }
}

/** Raw records without a summary: an aborted or failed run whose measurements can still be aggregated. */
async function measuredButNotAggregated(dir: string): Promise<boolean> {
  const names = await readdir(dir).catch(() => [] as string[]);
  if (names.includes(SUMMARY_FILE)) return false;
  // Measured = request records exist (a runner interrupted before its first send leaves none).
  const requests = await readdir(join(dir, REQUESTS_DIR)).catch(() => [] as string[]);
  const raw = await readdir(join(dir, 'raw')).catch(() => [] as string[]);
  return requests.some((n) => n.endsWith('.ndjson.gz')) || raw.length > 0;
}

/** The server the user named and where (PrepareRun's order), checked by the one base-URL rule; undefined: none. */
function namedTarget(o: WorkflowCommandOptions, input: Record<string, unknown>): { url: string; input: string } | undefined {
  const fromTarget = (input.target as { baseUrl?: unknown } | undefined)?.baseUrl;
  const overrides = input.overrides as { server?: { base_url?: unknown } } | undefined;
  const fromOverrides = overrides?.server?.base_url;
  const [value, where] = fromTarget !== undefined ? [fromTarget, o.target ? '--target' : '--input target.baseUrl'] : [fromOverrides, '--input overrides.server.base_url'];
  if (value === undefined) return undefined;
  const checked = ServerBaseUrl.safeParse(value);
  if (!checked.success || typeof value !== 'string') {
    throw new InputError(where, [checked.error?.issues[0]?.message ?? 'must be a URL string'], "give the server's base URL, e.g. http://qwen3-vllm.default:8000 (http or https, without /v1).");
  }
  return { url: value.replace(/\/+$/, ''), input: where };
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
  // The flags win over the input's target too (PrepareRun's order: the input's target over its overrides).
  if (o.model || o.target) {
    input.target = { ...((base.target as Record<string, unknown> | undefined) ?? {}), ...(o.target ? { baseUrl: o.target } : {}), ...(o.model ? { modelName: o.model } : {}) };
  }
  return input;
}
