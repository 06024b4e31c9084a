import { describe, expect, it } from 'vitest';
import { executionInput } from '../../runtime/cli/commands/workflow.ts';

describe('workflow: the execution input its flags describe', () => {
  it('--workers sets the runner\'s load.num_workers as an override, keeping the preset\'s stages (npm start passes --workers 1)', () => {
    expect(executionInput({ scenario: 'baseline', workers: 1, out: 'results' })).toEqual({
      scenario: 'baseline',
      overrides: { load: { num_workers: 1 } },
    });
    const both = executionInput({ scenario: 'baseline', workers: 2, duration: 20, out: 'results' });
    expect(both.overrides).toEqual({ load: { stages: [{ rate: 1, duration: 20 }], num_workers: 2 } });
  });

  it('without it, the preset\'s own num_workers stands (no override)', () => {
    expect(executionInput({ scenario: 'baseline', out: 'results' })).toEqual({ scenario: 'baseline' });
  });
});
