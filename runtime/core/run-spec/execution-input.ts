import { z } from 'zod';
import { InputError, issueProblems } from '../errors.ts';
import { runnerKinds } from '../records/run-manifest.ts';
import { isRunId, RUN_ID_RULE } from './naming.ts';
import { ServerBaseUrl } from '../scenario/schema.ts';

const PodSelectorInput = z.union([z.string(), z.record(z.string(), z.string())]);

export const CompareInput = z.strictObject({
  windowSize: z.number().int().min(3).max(60).optional(),
  reference: z.union([z.string().refine(isRunId, `must be ${RUN_ID_RULE}`), z.array(z.string().refine(isRunId, `must be ${RUN_ID_RULE}`)).min(1).max(60)]).optional(),
});

/** What a person (or the schedule) may pass to StartExecution. `{}` is valid. */
export const ExecutionInput = z.strictObject({
  /** A preset name (`baseline`, …); default: the stack's scenario. */
  scenario: z.string().min(1).optional(),
  /** A partial inference-perf-style config deep-merged onto the preset (arrays replace). */
  overrides: z.record(z.string(), z.unknown()).optional(),
  target: z
    .strictObject({
      baseUrl: ServerBaseUrl.optional(),
      modelName: z.string().min(1).optional(),
      /** Labels of the inference pods (`app.kubernetes.io/component=qwen3-vllm` or a map). */
      podSelector: PodSelectorInput.optional(),
    })
    .optional(),
  runner: z.enum(runnerKinds).optional(),
  runId: z.string().refine(isRunId, `must be ${RUN_ID_RULE}`).optional(),
  /**
   * How the run is compared with its history: `windowSize` earlier valid runs (default DEFAULT_COMPARE_OPTIONS.windowSize), or the
   * run ids of `reference` runs of the same series instead.
   */
  compare: CompareInput.optional(),
});
export type ExecutionInput = z.infer<typeof ExecutionInput>;

export const executionInputKeys = Object.keys(ExecutionInput.shape);
const targetKeys = ['baseUrl', 'modelName', 'podSelector'];
const compareKeys = Object.keys(CompareInput.shape);

/** Every problem in the input, by path, in one `InputError` (name `InvalidInput` for the workflow). */
export class InvalidInputError extends InputError {
  constructor(problems: string[]) {
    super('execution input', problems, "correct the fields named above; `{}` runs the stack's default baseline.");
    this.name = 'InvalidInput';
  }
}

/**
 * Validates each field of the execution input on its own, so one bad field does not hide the
 * problems of the others (an invalid runner and invalid overrides are reported together).
 */
export function parseExecutionInput(raw: unknown, problems: string[]): ExecutionInput {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push('(top level): must be a JSON object such as {} or {"scenario": "baseline"}');
    return {};
  }
  const shape = ExecutionInput.shape as Record<string, z.ZodType>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const field = shape[key];
    if (!field) {
      problems.push(`${key}: unknown or unsupported key; supported keys at (top level): ${executionInputKeys.join(', ')}`);
      continue;
    }
    const r = field.safeParse(value, { reportInput: true });
    if (r.success) out[key] = r.data;
    else problems.push(...issueProblems(r.error.issues, { at: [key], supportedKeys: (p) => (p[0] === 'target' ? targetKeys : p[0] === 'compare' ? compareKeys : executionInputKeys) }));
  }
  return out as ExecutionInput;
}
