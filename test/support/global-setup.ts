import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { localStack } from '../../infra/local-stack.ts';
import { LOCAL_SYNTH_SETTINGS, type LocalBuild } from './local-build.ts';

/**
 * Built once per test run, not once per file: the runner bundle (the pods' program and the worker
 * threads' entry) and the stack synthesized with the local workflow's default settings. Both come
 * from the sources as they are now; both are removed when the run ends.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'ib-build-'));
  const bundleFile = join(dir, 'runner.mjs');
  const synthesizedFile = join(dir, 'synthesized.json');
  await localStack.buildRunnerBundle(bundleFile);
  await writeFile(synthesizedFile, JSON.stringify(localStack.synthesize(LOCAL_SYNTH_SETTINGS)));
  const build: LocalBuild = { bundleFile, synthesizedFile };
  project.provide('localBuild', build);
  return () => rm(dir, { recursive: true, force: true });
}
