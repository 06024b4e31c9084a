import type { RunSpec } from '../run-spec/index.ts';

/** Label and annotation keys the project puts on what it creates. */
export const LABELS = {
  name: 'app.kubernetes.io/name',
  component: 'app.kubernetes.io/component',
  managedBy: 'app.kubernetes.io/managed-by',
  runId: 'inference-baseline/run-id',
  scenario: 'inference-baseline/scenario',
  runner: 'inference-baseline/runner',
} as const;

export const ZONE_LABEL = 'topology.kubernetes.io/zone';

/** A string as a Kubernetes label value (≤ 63, alphanumeric at both ends). */
export function labelValue(text: string): string {
  const v = text
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return v;
}

export function commonLabels(): Record<string, string> {
  return { [LABELS.name]: 'inference-baseline', [LABELS.managedBy]: 'inference-baseline' };
}

/** Labels that identify one run (Job, its pods, its ConfigMap). */
export function runLabels(spec: RunSpec): Record<string, string> {
  return {
    ...commonLabels(),
    [LABELS.component]: 'runner',
    [LABELS.runId]: labelValue(spec.runId),
    [LABELS.scenario]: labelValue(spec.scenario),
    [LABELS.runner]: spec.runner.kind,
  };
}
