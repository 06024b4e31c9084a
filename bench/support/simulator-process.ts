import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { GroundTruthEntry } from '../../runtime/simulator/index.ts';

const bin = fileURLToPath(new URL('../../bin/inference-baseline.js', import.meta.url));

export interface SimulatorProcess {
  url: string;
  child: ChildProcess;
  /** CPU time (user + system, ms) the simulator process has used so far, from /proc. */
  cpuMs(): Promise<number>;
  /** Stops the simulator (SIGINT, so it flushes its log) and returns the ground truth it wrote. */
  stop(): Promise<GroundTruthEntry[]>;
}

/**
 * The simulator in its own process, as `inference-baseline simulate` runs it: its event loop is not
 * the runner's, so comparing the two measures the runner's error and not their shared loop's.
 */
export async function spawnSimulator(args: string[], groundTruthFile: string, cpus?: string): Promise<SimulatorProcess> {
  // Word counting, as when BENCHMARKS.md was measured: the simulator's tokenizer is not what these
  // benchmarks measure, and Qwen3's (the default for qwen3-8b) costs the simulator ~1 ms of CPU per
  // 512-token prompt, which at high rates would take CPU from the runner under test.
  const argv = [bin, 'simulate', '--port', '0', '--ground-truth', groundTruthFile, '--tokenizer', 'words', ...args];
  // `cpus` pins the simulator (all its threads) to those cores with taskset, away from the runner's.
  // Pinned, V8's GC helper threads would share its one core with the loop that writes and stamps
  // chunks, stalling it for tens of milliseconds after it has stamped writes still corked in its
  // sockets: ground truth that is wrong for whichever client is measuring. Its collections stay on
  // its main thread, as the runner's do (RUNNER_NODE_FLAGS).
  const node = [process.execPath, '--single-threaded-gc', ...argv];
  const child = cpus ? spawn('taskset', ['-c', cpus, ...node], { stdio: ['ignore', 'pipe', 'inherit'] }) : spawn(node[0]!, node.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`simulator exited with ${code} before listening`)));
    lines.on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]!);
    });
  });
  return {
    url,
    child,
    async cpuMs() {
      // The process and its workers (`--workers N`: node:cluster children), from /proc.
      const ticks = async (pid: number): Promise<number> => {
        const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
        if (!stat) return 0;
        // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th, in clock ticks (100 Hz on Linux).
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')).split(' ').filter(Boolean).map(Number);
        let sum = Number(fields[11]) + Number(fields[12]);
        for (const c of children) sum += await ticks(c);
        return sum;
      };
      return (await ticks(child.pid!)) * 10;
    },
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      await exited;
      const text = await readFile(groundTruthFile, 'utf8');
      return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as GroundTruthEntry);
    },
  };
}
