import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PromptSpool, removeThisProcessSpools } from '../../runtime/runner/prompt-spool.ts';
import { useTempDirs } from '../support/temp-dir.ts';

/**
 * A runner that never reaches its own cleanup — killed with SIGKILL, or quit with a second Ctrl-C
 * (process.exit) — must not leave its prompt spool in the temp folder for good. Each case runs a
 * real child process with TMPDIR pointed at a folder of this test's own, removed afterwards.
 */
const tempDir = useTempDirs();
const children: ChildProcess[] = [];
afterEach(() => {
  vi.unstubAllEnvs();
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

const spoolModule = new URL('../../runtime/runner/prompt-spool.ts', import.meta.url).href;

/**
 * A node process (through tsx, as the CLI runs) that creates a spool, prints its pid, then does
 * `then`: 'wait' until killed, or 'exit' at once with code 130 (what a second Ctrl-C does).
 */
async function spoolingChild(tmp: string, then: 'wait' | 'exit'): Promise<{ child: ChildProcess; pid: number }> {
  const code = `const { PromptSpool } = await import(${JSON.stringify(spoolModule)});
await PromptSpool.create();
console.log(process.pid);
${then === 'exit' ? 'process.exit(130);' : 'setInterval(() => {}, 60_000);'}`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await once(lines, 'line')) as [string];
  lines.close();
  return { child, pid: Number(line) };
}

/** The spools in `tmp` (tsx keeps its own cache folder there too). */
async function spools(tmp: string): Promise<string[]> {
  return (await readdir(tmp)).filter((n) => n.startsWith('ib-prompts-')).sort();
}

describe('prompt spools do not outlive their process', () => {
  it('a runner quit with process.exit(130) (a second Ctrl-C) removes its spool on the way out', async () => {
    const tmp = await tempDir();
    const { child, pid } = await spoolingChild(tmp, 'exit');
    const [exitCode] = (await once(child, 'exit')) as [number];

    expect(exitCode).toBe(130);
    expect(pid).toBeGreaterThan(0);
    expect(await spools(tmp)).toEqual([]);
  });

  it("a runner killed with SIGKILL leaves its spool only until the next spool is created; a live runner's spool is left alone", async () => {
    const tmp = await tempDir();
    vi.stubEnv('TMPDIR', tmp);
    const { child, pid } = await spoolingChild(tmp, 'wait');
    expect(await spools(tmp)).toEqual([expect.stringMatching(new RegExp(`^ib-prompts-${pid}-`))]);

    // While the other runner lives, its spool is its own.
    const beside = await PromptSpool.create();
    expect(await spools(tmp)).toHaveLength(2);
    await beside.remove();
    expect(await spools(tmp)).toEqual([expect.stringMatching(new RegExp(`^ib-prompts-${pid}-`))]);

    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(await spools(tmp)).toHaveLength(1); // no JS ran: the debris is there

    const next = await PromptSpool.create();
    expect(await spools(tmp)).toEqual([expect.stringMatching(new RegExp(`^ib-prompts-${process.pid}-`))]);
    await next.remove();
    expect(await spools(tmp)).toEqual([]);
  });

  it("removeThisProcessSpools (for a runner's main thread, whose threads' exit listeners do not run) removes this pid's spools and no other's", async () => {
    const tmp = await tempDir();
    vi.stubEnv('TMPDIR', tmp);
    const { pid } = await spoolingChild(tmp, 'wait');
    const mine = [await PromptSpool.create(), await PromptSpool.create()];
    expect(await spools(tmp)).toHaveLength(3);

    removeThisProcessSpools();

    expect(await spools(tmp)).toEqual([expect.stringMatching(new RegExp(`^ib-prompts-${pid}-`))]);
    await Promise.all(mine.map((s) => s.remove()));
  });
});
