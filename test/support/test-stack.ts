import { readFileSync } from 'node:fs';
import { inject } from 'vitest';
import { localStack } from '../../infra/local-stack.ts';
import type { LocalStack, SynthesizedWorkflow } from '../../runtime/core/ports/local-stack.ts';
import { LOCAL_SYNTH_SETTINGS, sameSettings } from './local-build.ts';

let synthesized: SynthesizedWorkflow | undefined;

/** infra/local-stack.ts, with the synthesis global-setup.ts made for the default settings. */
export const testStack: LocalStack = {
  ...localStack,
  synthesize(settings) {
    if (!sameSettings(settings, LOCAL_SYNTH_SETTINGS)) return localStack.synthesize(settings);
    synthesized ??= JSON.parse(readFileSync(inject('localBuild').synthesizedFile, 'utf8')) as SynthesizedWorkflow;
    return structuredClone(synthesized);
  },
};

/** The runner bundle global-setup.ts built from these sources. */
export function runnerBundle(): string {
  return inject('localBuild').bundleFile;
}
