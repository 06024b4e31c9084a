import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BACKGROUND_NICE, statNice, yieldBackgroundThreads, type ThreadControl } from '../../runtime/timing/background-threads.ts';

/** A process's threads as a map of thread id → nice value; `refuse` threads say no to a renice, `gone` ones have exited. */
function fakeThreads(nice: Record<number, number>, o: { refuse?: number[]; gone?: number[] } = {}): ThreadControl {
  return {
    threads: () => Object.keys(nice).map(Number),
    nice: (tid) => (o.gone?.includes(tid) ? undefined : nice[tid]),
    renice: (tid, n) => {
      if (o.refuse?.includes(tid) || o.gone?.includes(tid)) return false;
      nice[tid] = n;
      return true;
    },
  };
}

describe('yielding the loop core to nobody: helper threads at nice 19', () => {
  it('renices every thread but the loops, and says which', () => {
    const nice = { 100: 0, 101: 0, 102: 0, 103: 0, 104: 0 };
    expect(yieldBackgroundThreads([100, 103], fakeThreads(nice))).toEqual([101, 102, 104]);
    expect(nice).toEqual({ 100: 0, 101: 19, 102: 19, 103: 0, 104: 19 });
  });

  it('leaves threads already at the lowest priority, refused and exited ones out of what it reports', () => {
    const nice = { 100: 0, 101: BACKGROUND_NICE, 102: 0, 103: 0 };
    expect(yieldBackgroundThreads([100], fakeThreads(nice, { refuse: [102], gone: [103] }))).toEqual([]);
    expect(nice).toEqual({ 100: 0, 101: 19, 102: 0, 103: 0 });
  });

  it('reads nice from a stat line whose command name holds spaces and parentheses', () => {
    // State, then fields 4–17, priority (18th) 20, nice (19th) 7.
    const fields = ['S', ...Array.from({ length: 14 }, (_, i) => String(i + 1)), '20', '7', '1', '0'];
    expect(statNice(`4242 (a (b) c) ${fields.join(' ')}`)).toBe(7);
    expect(statNice('4242 (node) S 1')).toBeUndefined();
  });

  // Real threads: a child Node process (its V8 platform workers and libuv's pool) renices its own
  // helpers, so this test's process keeps its priorities.
  it.skipIf(!existsSync('/proc/thread-self'))('in a real Node process on Linux: every thread but the calling one ends at nice 19', () => {
    const script = `
      import { readdirSync, readFileSync } from 'node:fs';
      import { currentThreadId, statNice, yieldBackgroundThreads } from './runtime/timing/background-threads.ts';
      await import('node:fs/promises').then((f) => f.stat('.'));   // libuv's pool exists from the first file operation
      const me = currentThreadId();
      const before = statNice(readFileSync('/proc/self/task/' + me + '/stat', 'utf8'));
      const reniced = yieldBackgroundThreads([me]);
      const nice = Object.fromEntries(readdirSync('/proc/self/task').map((t) => [t, statNice(readFileSync('/proc/self/task/' + t + '/stat', 'utf8'))]));
      console.log(JSON.stringify({ me, pid: process.pid, before, reniced, nice }));
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', cwd: new URL('../..', import.meta.url) })) as {
      me: number;
      before: number;
      pid: number;
      reniced: number[];
      nice: Record<string, number>;
    };
    expect(out.me).toBe(out.pid);
    const others = Object.keys(out.nice).map(Number).filter((t) => t !== out.me);
    expect(others.length).toBeGreaterThanOrEqual(4);
    // A process started at nice 19 (under `nice -n 19`) has nothing to renice.
    expect(out.reniced.sort()).toEqual(out.before < BACKGROUND_NICE ? others.sort() : []);
    expect(out.nice[out.me]).toBe(out.before);
    for (const t of others) expect(out.nice[t]).toBe(BACKGROUND_NICE);
  });
});
