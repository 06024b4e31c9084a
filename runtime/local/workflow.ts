import { randomBytes } from 'node:crypto';
import { ExecutionAbortedError, ExecutionError, ExecutionTimeoutError, StateMachine } from 'aws-local-stepfunctions';
import type { EmfDocument } from '../aws/emf.ts';
import { type Definition, type LocalStack, type SynthesizedWorkflow } from '../core/ports/local-stack.ts';
import { STACK_DEFAULTS } from '../core/run-spec/index.ts';
import type { RunSpec } from '../core/run-spec/index.ts';
import { realCloudClock } from './clock.ts';
import { startEnvironment, type EnvironmentOptions, type LocalEnvironment } from './environment.ts';
import { bindHandlers } from './handlers.ts';

// aws-local-stepfunctions calls Promise.withResolvers (Node 22); this project also runs on Node 20.
if (!('withResolvers' in Promise)) {
  Object.assign(Promise, {
    withResolvers<T>() {
      let resolve!: (v: T) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

/**
 * The embedded workflow: the state machine definition CDK synthesizes — not a copy — executed by
 * aws-local-stepfunctions, each Task bound to local code (handlers.ts) over the local services
 * (environment.ts). Locally the stack polls its Job every 5 s (its shortest setting; 30 s on AWS)
 * and retries wait 0.1 s — the only differences, recorded in every execution's record; an execution
 * that ends timed out, aborted or failed starts the stack's reaper, as its EventBridge rule does.
 * Wait states and the execution's TimeoutSeconds run on the cloud's clock (clock.ts): real time for
 * the CLI, virtual time in tests.
 */

export interface LocalWorkflowOptions extends Omit<EnvironmentOptions, 'onPodLog' | 'config' | 'stack' | 'synthesize'> {
  /** The stack (infra/local-stack.ts, handed in by the composition root). */
  stack: LocalStack;
  /** The stack synthesized with these settings, when the caller has it already (tests synthesize once per run). */
  synthesized?: SynthesizedWorkflow;
  /** Stack settings (cdk.json context keys); `clusterName` is `local`. */
  config?: Record<string, unknown>;
  /** A line per state entered / left, retried, caught. */
  onProgress?: (line: string) => void;
  onPodLog?: (pod: string, line: string, env: LocalEnvironment) => void;
}

export interface ExecuteOptions {
  input?: unknown;
  /** Aborts the execution (Ctrl-C). */
  signal?: AbortSignal;
  /** Replaces the definition's TimeoutSeconds (tests of a timeout); recorded in the execution's record. */
  timeoutSeconds?: number;
  /** Stack settings for this execution's PrepareRun only (e.g. deadlineMarginSeconds); recorded too. */
  stackOverrides?: Record<string, unknown>;
}

export interface StateRecord {
  name: string;
  type: string;
  enteredAt: number;
  exitedAt?: number;
  outcome?: 'exited' | 'failed' | 'caught' | 'retried';
}

export type ExecutionStatus = 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface ExecutionRecord {
  executionArn: string;
  name: string;
  input: unknown;
  status: ExecutionStatus;
  startedAt: string;
  endedAt: string;
  output?: Record<string, unknown>;
  error?: { error: string; cause: string };
  states: StateRecord[];
  events: unknown[];
  definitionSha256: string;
  overrides: { retryIntervalMs: number; timeoutSeconds?: number; stackSettings?: Record<string, unknown>; clock: 'real' | 'virtual' };
  /** The run PrepareRun built (absent when it failed). */
  runSpec?: RunSpec;
  emf: EmfDocument[];
  /** What the workflow published to SNS (a regressed run's notice). */
  notices: Array<{ TopicArn?: string; Subject?: string; Message?: string }>;
  reaper?: { status: ExecutionStatus; states: string[]; output?: unknown; error?: { error: string; cause: string } };
}

const RETRY_MS = 100;
/** The stack's shortest Job poll interval (pollIntervalSeconds ≥ 5), used locally. */
export const LOCAL_POLL_SECONDS = 5;

export class LocalWorkflow {
  private constructor(
    readonly env: LocalEnvironment,
    readonly synth: SynthesizedWorkflow,
    private readonly o: LocalWorkflowOptions,
  ) {}

  static async start(o: LocalWorkflowOptions): Promise<LocalWorkflow> {
    const holder: { env?: LocalEnvironment } = {};
    const env = await startEnvironment({
      ...o,
      config: { pollIntervalSeconds: LOCAL_POLL_SECONDS, ...o.config },
      synthesize: (config) => o.synthesized ?? o.stack.synthesize(config),
      onPodLog: (pod, line) => o.onPodLog?.(pod, line, holder.env!),
    });
    holder.env = env;
    return new LocalWorkflow(env, env.synth, o);
  }

  stop(): Promise<void> {
    return this.env.stop();
  }

  /** One execution of the benchmark workflow, then the reaper when the stack's rule would start it. */
  async execute(e: ExecuteOptions = {}): Promise<ExecutionRecord> {
    const clock = this.env.clock;
    const name = `local-${new Date(clock.now()).toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
    const executionArn = `${this.synth.stateMachines.workflow.replace(':stateMachine:', ':execution:')}:${name}`;
    const metricNamespace = String(this.env.config.metricNamespace ?? STACK_DEFAULTS.metricNamespace);
    const bound = bindHandlers(this.env, this.o.stack, this.synth, { metricNamespace, ...(e.stackOverrides ? { stackOverrides: e.stackOverrides } : {}) });
    const overrides: ExecutionRecord['overrides'] = {
      retryIntervalMs: RETRY_MS,
      ...(e.timeoutSeconds !== undefined ? { timeoutSeconds: e.timeoutSeconds } : {}),
      ...(e.stackOverrides ? { stackSettings: e.stackOverrides } : {}),
      clock: clock === realCloudClock ? 'real' : 'virtual',
    };
    const definition: Definition = e.timeoutSeconds !== undefined ? { ...this.synth.definition, TimeoutSeconds: e.timeoutSeconds } : this.synth.definition;
    const input = e.input ?? {};
    // What PrepareRun returned, where its ResultPath puts it: the Wait state's SecondsPath reads it.
    const data = (): Record<string, unknown> => placeAt(this.prepareResultPath(), bound.prepared.at(-1));
    const run = await this.run(definition, input, bound.handlers, { Id: executionArn, Name: name }, overrides, data, e.signal);
    const record: ExecutionRecord = {
      executionArn,
      name,
      input,
      ...run,
      ...(bound.prepared.at(-1) ? { runSpec: bound.prepared.at(-1)!.runSpec } : {}),
      definitionSha256: this.synth.definitionSha256,
      overrides,
      emf: bound.emf,
      notices: bound.notices,
    };
    if (this.synth.reapedStatuses.includes(run.status)) {
      // The stack's EventBridge rule on the workflow's status changes: the reaper gets the event.
      const startTime = bound.prepareEvents[0]?.startTime ?? record.startedAt;
      const event = {
        source: 'aws.states',
        'detail-type': 'Step Functions Execution Status Change',
        detail: { executionArn, name, status: run.status, startDate: Date.parse(startTime), input: JSON.stringify(input) },
      };
      this.o.onProgress?.(`execution ${run.status}: the reaper cleans up (EventBridge rule on the workflow's status changes)`);
      const reaped = await this.run(this.synth.reaperDefinition, event, bound.handlers, { Id: `${this.synth.stateMachines.reaper.replace(':stateMachine:', ':execution:')}:${name}-reaper`, Name: `${name}-reaper` }, overrides, () => ({}));
      record.reaper = { status: reaped.status, states: reaped.states.map((s) => s.name), ...(reaped.output ? { output: reaped.output } : {}), ...(reaped.error ? { error: reaped.error } : {}) };
    }
    return record;
  }

  /** PrepareRun's ResultPath in the definition (`$.prepared`). */
  private prepareResultPath(): string {
    const task = Object.values(this.synth.definition.States).find((st) => st.Type === 'Task' && this.synth.functionArns[String(st.Resource)] === 'PrepareRun');
    return typeof task?.ResultPath === 'string' ? task.ResultPath : '$';
  }

  private async run(
    definition: Definition,
    input: unknown,
    handlers: Record<string, (input: never) => unknown>,
    context: { Id: string; Name: string },
    overrides: ExecutionRecord['overrides'],
    data: () => Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<Pick<ExecutionRecord, 'status' | 'startedAt' | 'endedAt' | 'output' | 'error' | 'states' | 'events'>> {
    const clock = this.env.clock;
    const cluster = this.env.cluster;
    // A copy: the interpreter changes the objects it is given; the record must keep the definition as
    // synthesized. The execution's timeout is kept on the cloud's clock, not the interpreter's timer.
    const { TimeoutSeconds: timeoutSeconds, ...rest } = structuredClone(definition);
    const machine = new StateMachine(rest as never, { validationOptions: { checkArn: false } });
    const retryable = Object.fromEntries(Object.entries(definition.States).filter(([, s]) => Array.isArray(s.Retry)).map(([n]) => [n, overrides.retryIntervalMs]));
    // Each Wait state asks the clock how long to wait, at the moment it begins (the interpreter reads the override then).
    const waits: Record<string, number> = {};
    for (const [stateName, state] of Object.entries(definition.States)) {
      if (state.Type !== 'Wait') continue;
      Object.defineProperty(waits, stateName, { enumerable: true, get: () => clock.waitState(waitSeconds(stateName, state, data()) * 1000, cluster.busy()) });
    }
    const startedAt = new Date(clock.now()).toISOString();
    const execution = machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: handlers as never, waitTimeOverrides: waits, retryIntervalOverrides: retryable },
      context: { Execution: context },
    });
    let timedOut = false;
    const cancelTimeout = timeoutSeconds !== undefined ? clock.after(timeoutSeconds * 1000, () => {
      timedOut = true;
      execution.abort();
    }) : () => undefined;
    const onAbort = (): void => execution.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) execution.abort();
    const states: StateRecord[] = [];
    const events: unknown[] = [];
    const consume = (async () => {
      for await (const ev of execution.eventLogs) {
        const e = ev as unknown as LogEvent;
        e.timestamp = clock.fromReal(e.timestamp);
        if (timedOut && e.type === 'ExecutionAborted') e.type = 'ExecutionTimeout';
        events.push(slim(e));
        this.progress(e, states);
      }
    })();
    let status: ExecutionStatus = 'SUCCEEDED';
    let output: Record<string, unknown> | undefined;
    let error: { error: string; cause: string } | undefined;
    try {
      output = (await execution.result) as Record<string, unknown>;
    } catch (err) {
      if (timedOut || err instanceof ExecutionTimeoutError) {
        status = 'TIMED_OUT';
        error = { error: 'States.Timeout', cause: 'The execution timed out (its TimeoutSeconds passed).' };
      } else if (err instanceof ExecutionAbortedError) status = 'ABORTED';
      else if (err instanceof ExecutionError) {
        status = 'FAILED';
        const cause = (err as { cause?: { name?: string; message?: string } }).cause;
        error = { error: cause?.name ?? 'Error', cause: cause?.message ?? err.message };
      } else throw err;
    } finally {
      cancelTimeout();
      signal?.removeEventListener('abort', onAbort);
    }
    await consume.catch(() => undefined);
    return { status, startedAt, endedAt: new Date(clock.now()).toISOString(), ...(output ? { output } : {}), ...(error ? { error } : {}), states, events };
  }

  private progress(ev: LogEvent, states: StateRecord[]): void {
    const say = this.o.onProgress ?? (() => undefined);
    const s = ev.state;
    if (ev.type === 'StateEntered' && s) states.push({ name: s.name, type: s.type, enteredAt: ev.timestamp });
    const last = s ? [...states].reverse().find((x) => x.name === s.name && x.exitedAt === undefined) : undefined;
    const took = (): string => (last ? `${((ev.timestamp - last.enteredAt) / 1000).toFixed(1)} s` : '');
    if (ev.type === 'StateExited' && last) {
      last.exitedAt = ev.timestamp;
      last.outcome = 'exited';
      if (s!.type !== 'Choice' && s!.type !== 'Pass') say(`  ${s!.name} ${took()}`);
    } else if ((ev.type === 'StateFailed' || ev.type === 'StateCaught') && last) {
      last.exitedAt = ev.timestamp;
      last.outcome = ev.type === 'StateFailed' ? 'failed' : 'caught';
      say(`  ${s!.name} ${took()} → ${ev.Error ?? 'error'}${ev.type === 'StateCaught' ? ' (caught)' : ''}`);
    } else if (ev.type === 'StateRetried' && last) {
      last.outcome = 'retried';
      say(`  ${s!.name} retried (attempt ${ev.retry?.attempt ?? '?'})`);
    }
  }
}

/**
 * An event as execution.json keeps it: what happened when, not the whole execution state at every
 * step (that is megabytes per run, most of it the same manifests over and over).
 */
function slim(ev: LogEvent): unknown {
  return {
    type: ev.type,
    timestamp: ev.timestamp,
    ...(ev.state ? { state: { name: ev.state.name, type: ev.state.type } } : {}),
    ...(ev.Error !== undefined ? { error: ev.Error, cause: typeof ev.Cause === 'string' ? ev.Cause : JSON.stringify(ev.Cause) } : {}),
    ...(ev.retry ? { attempt: ev.retry.attempt } : {}),
  };
}

/**
 * How long a Wait state waits: its `Seconds`, or its `SecondsPath` read from what the Lambda tasks
 * returned (the only paths the stack's Wait states use). Anything else is a harness bug, said loudly.
 */
function waitSeconds(name: string, state: Record<string, unknown>, data: Record<string, unknown>): number {
  if (typeof state.Seconds === 'number') return state.Seconds;
  if (typeof state.SecondsPath === 'string' && /^\$(\.[A-Za-z_][\w]*)+$/.test(state.SecondsPath)) {
    const value = state.SecondsPath.slice(2).split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), data);
    if (typeof value === 'number') return value;
  }
  throw new Error(`the local workflow cannot tell how long Wait state ${name} waits (${JSON.stringify(state)})`);
}

/** `{a: {b: value}}` for `$.a.b`. */
function placeAt(path: string, value: unknown): Record<string, unknown> {
  return path
    .replace(/^\$\.?/, '')
    .split('.')
    .filter(Boolean)
    .reduceRight<unknown>((inner, key) => ({ [key]: inner }), value) as Record<string, unknown>;
}

interface LogEvent {
  type: string;
  timestamp: number;
  state?: { name: string; type: string };
  Error?: string;
  Cause?: unknown;
  retry?: { attempt: number };
}
