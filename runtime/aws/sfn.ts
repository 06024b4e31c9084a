import { createHash } from 'node:crypto';
import {
  DescribeExecutionCommand,
  ListStateMachinesCommand,
  ListTagsForResourceCommand,
  StartExecutionCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { STACK_TAG } from '../core/run-spec/index.ts';

/** Thin Step Functions adapter for the CLI: start, describe, and find the stack's state machine. */

export { STACK_TAG };

export type SfnSend = Pick<SFNClient, 'send'>;

export async function startExecution(client: SfnSend, stateMachineArn: string, input: unknown): Promise<{ executionArn: string; startDate: Date | undefined }> {
  const out = await client.send(new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(input) }));
  if (!out.executionArn) throw new Error('StartExecution returned no executionArn');
  return { executionArn: out.executionArn, startDate: out.startDate };
}

export interface ExecutionState {
  status: string;
  output: unknown;
  error: string | undefined;
  cause: string | undefined;
}

export async function describeExecution(client: SfnSend, executionArn: string): Promise<ExecutionState> {
  const out = await client.send(new DescribeExecutionCommand({ executionArn }));
  let output: unknown;
  if (out.output) {
    try {
      output = JSON.parse(out.output);
    } catch {
      output = out.output;
    }
  }
  return { status: out.status ?? 'UNKNOWN', output, error: out.error, cause: out.cause };
}

/** The ARN of the state machine tagged `inference-baseline:stack=<stackName>`, or undefined. */
export async function findStateMachine(client: SfnSend, stackName: string): Promise<string | undefined> {
  let nextToken: string | undefined;
  do {
    const page = await client.send(new ListStateMachinesCommand({ nextToken }));
    for (const sm of page.stateMachines ?? []) {
      if (!sm.stateMachineArn) continue;
      const { tags } = await client.send(new ListTagsForResourceCommand({ resourceArn: sm.stateMachineArn }));
      if (tags?.some((t) => t.key === STACK_TAG && t.value === stackName)) return sm.stateMachineArn;
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return undefined;
}

/** The run-id suffix of an execution: stable across retries, so PrepareRun and the reaper name the same run. */
export function runIdSuffix(executionId: string): string {
  return createHash('sha256').update(executionId).digest('hex').slice(0, 6);
}
