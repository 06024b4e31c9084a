import { main } from './entry.ts';

/**
 * The runner bundle's entry point (and the Dockerfile's): the command line without the local
 * cloud — a pod runs `run`, never `workflow` — and, in a worker thread, a runner worker.
 */
await main();
