import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import workerThreads from 'node:worker_threads';

/**
 * The unit tier's promise, kept by the setup rather than by convention: no sockets, no child
 * processes, no threads. A unit test that opens one fails here with the reason, and belongs in the
 * integration tier (vitest.config.ts).
 */
const refuse = (what: string) => () => {
  throw new Error(`a unit test may not ${what} (move the test to the integration tier: vitest.config.ts)`);
};

net.Socket.prototype.connect = refuse('open a socket') as never;
net.Server.prototype.listen = refuse('listen on a socket') as never;
for (const fn of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'] as const) {
  (childProcess as unknown as Record<string, unknown>)[fn] = refuse('start a child process');
}
(workerThreads as unknown as Record<string, unknown>).Worker = refuse('start a worker thread');
syncBuiltinESMExports();
