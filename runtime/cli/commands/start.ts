import type { SfnSend } from '../../aws/sfn.ts';
import { describeExecution, findStateMachine, startExecution } from '../../aws/sfn.ts';
import { networkCode, sdkConfigProblem, type SdkError } from '../../aws/sdk-errors.ts';
import { InputError } from '../../core/errors.ts';
import { DEFAULT_STACK_NAME, executionInputKeys, parseExecutionInput } from '../../core/run-spec/index.ts';
import { layerConfig, parseScenario, presetConfig, presetNames } from '../../core/scenario/index.ts';
import { EXIT } from '../exit-codes.ts';

export interface StartCommandOptions {
  /** CloudFormation stack name (its state machine is tagged inference-baseline:stack=<name>). */
  stack?: string;
  /** State machine ARN; skips the lookup by stack. */
  stateMachine?: string;
  /** Execution input as JSON (default `{}`: the stack's default baseline). */
  input?: string;
  /** Wait for the execution to end and print the verdict. */
  wait?: boolean;
  /** Seconds between DescribeExecution calls with --wait (default 30). */
  pollSeconds?: number;
}

export interface StartCommandDeps {
  sfn: SfnSend;
  stdout: NodeJS.WritableStream;
  sleep(ms: number): Promise<void>;
}

export interface StartCommandResult {
  /** 0 started (or valid run), 3 the run was invalid, 1 the execution failed. */
  exitCode: number;
  executionArn: string;
  status?: string;
  output?: unknown;
}

/** The Step Functions console page of an execution. */
export function executionConsoleUrl(executionArn: string): string {
  const [, partition, , region] = executionArn.split(':');
  const host = partition === 'aws-cn' ? `${region}.console.amazonaws.cn` : `${region}.console.aws.amazon.com`;
  return `https://${host}/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

/**
 * Parses and checks `--input` the way PrepareRun will: its shape, and the overrides against the
 * preset they change (the deployed stack's own defaults are applied there; a value the schema
 * refuses is refused whatever they are), so a typo is one message here, not a failed execution.
 */
export function parseStartInput(text: string | undefined): unknown {
  if (text === undefined || text.trim() === '') return {};
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (err) {
    throw new InputError('--input', [`is not valid JSON: ${(err as Error).message}`], 'pass a JSON object, e.g. --input \'{"runner":"inference-perf"}\'.');
  }
  const problems: string[] = [];
  const parsed = parseExecutionInput(input, problems);
  if (problems.length > 0) {
    const keys = problems.some((p) => /unknown|not supported|unsupported/i.test(p));
    throw new InputError('--input', problems, keys ? `the supported keys are ${executionInputKeys.join(', ')} (target: baseUrl, modelName, podSelector).` : 'correct the listed values (the workflow section of README.md describes the execution input).');
  }
  if (parsed.overrides !== undefined && (presetNames as string[]).includes(parsed.scenario ?? 'baseline')) {
    try {
      parseScenario(layerConfig(presetConfig(parsed.scenario ?? 'baseline'), parsed.overrides), '--input overrides');
    } catch (err) {
      if (err instanceof InputError) throw new InputError('--input overrides', err.problems, 'fix the listed keys (README.md "Scenario config" lists the supported ones).');
      throw err;
    }
  }
  return input;
}

/** One line a person can act on, from the workflow's final output. */
export function verdictLine(output: unknown): { line: string; valid: boolean } {
  const o = (output ?? {}) as { valid?: boolean; reasons?: string[]; runId?: string; model?: string; scenario?: string; zone?: string; results?: string; comparison?: string };
  const what = `run ${o.runId ?? '?'} (${o.scenario ?? '?'}, ${o.model ?? '?'}, zone ${o.zone ?? '?'})`;
  const comparison = o.comparison ? `\ncomparison: ${o.comparison}` : '';
  if (o.valid) return { valid: true, line: `VALID baseline: ${what}${comparison}\nresults: ${o.results ?? '?'}` };
  const reasons = (o.reasons ?? []).map((r) => `  - ${r}`).join('\n');
  return { valid: false, line: `INVALID: ${what} is not a baseline:\n${reasons}${comparison}\nresults: ${o.results ?? '?'}` };
}

/**
 * `inference-baseline start [--stack NAME | --state-machine ARN] [--input JSON] [--wait]`: starts the
 * deployed workflow (StartExecution), prints the console link; with --wait polls DescribeExecution
 * and prints the run's verdict.
 */
export async function startCommand(opts: StartCommandOptions, deps: StartCommandDeps): Promise<StartCommandResult> {
  const input = parseStartInput(opts.input);
  const stack = opts.stack ?? DEFAULT_STACK_NAME;
  const aws = <T>(call: Promise<T>): Promise<T> =>
    call.catch((err: unknown) => {
      throw sfnSetupProblem(err, opts.stateMachine ? `--state-machine ${opts.stateMachine}` : `--stack ${stack}`) ?? err;
    });
  const arn = opts.stateMachine ?? (await aws(findStateMachine(deps.sfn, stack)));
  if (!arn) {
    throw new InputError('--stack', [`no state machine tagged inference-baseline:stack=${stack} in this account and region`], 'deploy the stack (npx cdk deploy -c clusterName=NAME), check AWS_REGION, or pass --state-machine ARN.');
  }
  const { executionArn } = await aws(startExecution(deps.sfn, arn, input));
  deps.stdout.write(`started ${executionArn}\n${executionConsoleUrl(executionArn)}\n`);
  if (!opts.wait) return { exitCode: EXIT.ok, executionArn };

  const pollMs = (opts.pollSeconds ?? 30) * 1000;
  for (;;) {
    const state = await aws(describeExecution(deps.sfn, executionArn));
    if (state.status !== 'RUNNING' && state.status !== 'PENDING_REDRIVE') {
      if (state.status === 'SUCCEEDED') {
        const v = verdictLine(state.output);
        deps.stdout.write(`${v.line}\n`);
        return { exitCode: v.valid ? EXIT.ok : EXIT.invalid, executionArn, status: state.status, output: state.output };
      }
      deps.stdout.write(`${state.status}: ${state.error ?? 'no error name'}\n${state.cause ?? ''}\n`);
      return { exitCode: EXIT.failed, executionArn, status: state.status };
    }
    await deps.sleep(pollMs);
  }
}

/** A state machine ARN (`arn:<partition>:states:<region>:<account>:stateMachine:<name>`), checked before any call. */
export const STATE_MACHINE_ARN = /^arn:aws(-[a-z]+)*:states:[a-z]{2}(-[a-z]+)+-\d:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$/;

/** The region an ARN names: the Step Functions client goes there, whatever the profile's default. */
export function regionOfArn(arn: string): string {
  return arn.split(':')[3]!;
}

/**
 * The SDK's failure as the one thing the user has to fix (region, credentials, network, permission,
 * a state machine that is not there); null when it is not a setup problem.
 */
export function sfnSetupProblem(err: unknown, where: string): InputError | null {
  const e = err as SdkError;
  const config = sdkConfigProblem(e, where, 'set AWS_REGION (or a region in your AWS profile), or pass --state-machine with the ARN (its region is used).');
  if (config) return config;
  const code = networkCode(e);
  if (code) return new InputError(where, [`cannot reach Step Functions: ${code}`], 'check the network route to AWS (proxy, DNS, VPC endpoint) and AWS_REGION.');
  if (['UnrecognizedClientException', 'InvalidSignatureException', 'ExpiredTokenException', 'InvalidClientTokenId'].includes(e.name ?? '')) {
    return new InputError(where, [`AWS refused the credentials (${e.name})`], 'refresh them (aws sso login, or new keys) and try again.');
  }
  if (e.name === 'AccessDeniedException' || e.$metadata?.httpStatusCode === 403) {
    return new InputError(where, [`access denied (${e.message ?? e.name})`], 'use credentials allowed states:ListStateMachines, states:ListTagsForResource, states:StartExecution and states:DescribeExecution.');
  }
  if (e.name === 'StateMachineDoesNotExist' || e.name === 'InvalidArn') {
    return new InputError(where, [`${e.name}: ${e.message ?? ''}`], 'check the ARN (aws stepfunctions list-state-machines), or pass --stack with the stack name.');
  }
  return null;
}
