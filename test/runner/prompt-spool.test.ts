import { readdir } from 'node:fs/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PromptSpool } from '../../runtime/runner/prompt-spool.ts';
import type { PromptPlan } from '../../runtime/runner/prompts.ts';
import { useTempDirs } from '../support/temp-dir.ts';

const tempDir = useTempDirs();

/** What the process emits as `event` until `stop()`. */
function collect<T>(event: 'warning' | 'unhandledRejection'): { seen: T[]; stop(): void } {
  const seen: T[] = [];
  const on = (x: T): number => seen.push(x);
  process.on(event, on as (...args: unknown[]) => void);
  return { seen, stop: () => void process.off(event, on as (...args: unknown[]) => void) };
}
afterEach(() => vi.unstubAllEnvs());

describe('the prompt spool (a run\'s prompts on disk, not in memory)', () => {
  it('gives back every plan in the order written, then nothing; remove leaves nothing in the temp folder', async () => {
    const tmp = await tempDir();
    vi.stubEnv('TMPDIR', tmp);
    const warnings = collect<Error>('warning');
    const spool = await PromptSpool.create();
    const plans: PromptPlan[] = Array.from({ length: 5000 }, (_, i) => ({ prompt: `prompt ${i} ${'word '.repeat(i % 50)}\u00e9`, promptTokens: i, maxTokens: 128 }));
    // A prompt longer than the reader's 64 kB block (a 32k-token context), in the middle.
    plans[2500] = { prompt: `long ${'wörd '.repeat(40_000)}`, promptTokens: 40_001, maxTokens: 128 };
    for (const p of plans) await spool.write(p);
    await spool.close();
    // The file's backpressure was met many times (1.2 MB through a 16 kB buffer) without piling up listeners.
    await new Promise((r) => setImmediate(r));
    warnings.stop();
    expect(warnings.seen.map((w) => w.name)).toEqual([]);
    const reader = spool.read();
    const back: PromptPlan[] = [];
    for (let p = await reader.next(); p; p = await reader.next()) back.push(p);
    expect(back).toEqual(plans);
    expect(await readdir(tmp)).toHaveLength(1);
    await spool.remove();
    expect(await readdir(tmp)).toEqual([]);
  });

  it('removing the spool while the reader is reading ahead leaves nothing behind and no unhandled rejection', async () => {
    const tmp = await tempDir();
    vi.stubEnv('TMPDIR', tmp);
    const rejections = collect<unknown>('unhandledRejection');
    try {
      const spool = await PromptSpool.create();
      for (let i = 0; i < 200; i++) await spool.write({ prompt: `p${i} ${'w '.repeat(1500)}`, promptTokens: i, maxTokens: 8 });
      await spool.close();
      const reader = spool.read();
      // A dozen lines in: less than half a block left, so the next block is being read.
      for (let i = 0; i < 12; i++) expect((await reader.next())?.promptTokens).toBe(i);
      await spool.remove();
      await new Promise((r) => setImmediate(r));
      expect(rejections.seen).toEqual([]);
      expect(await readdir(tmp)).toEqual([]);
    } finally {
      rejections.stop();
    }
  });

  it('a write after the spool was removed (an abandoned calibration) is an error, not a crash', async () => {
    vi.stubEnv('TMPDIR', await tempDir());
    const spool = await PromptSpool.create();
    await spool.remove();
    await expect(spool.write({ prompt: 'x', promptTokens: 1, maxTokens: 1 })).rejects.toThrow(/removed/);
  });
});
