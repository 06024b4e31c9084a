import { Command, Option } from 'commander';
import { InputError } from '../core/errors.ts';
import { Interrupted } from '../runner/run.ts';
import { systemClock } from '../timing/clock.ts';
import { httpUrl, nonNegativeNumber, port, positiveNumber, probability, shardSpec } from './options.ts';
import { runCommand } from './commands/run.ts';
import { simulateCommand } from './commands/simulate.ts';

/**
 * The `inference-baseline` command line. Commands are thin: parse flags here, delegate to
 * `commands/*`, turn a user's mistake (InputError) into one message and exit code 2.
 */
const interrupt = new AbortController();
let interrupts = 0;
process.on('SIGINT', () => {
  interrupts += 1;
  if (interrupts > 1) process.exit(130);
  process.stderr.write('\nstopping: no new requests; in-flight requests get a grace period (Ctrl-C again to quit now)\n');
  interrupt.abort();
});
process.on('SIGTERM', () => interrupt.abort());

const program = new Command('inference-baseline')
  .description('Baseline latency of LLM inference endpoints: ttft, itl, tpot, ntpot, e2e and schedule delay, with a validity verdict.')
  .showHelpAfterError();

program
  .command('run')
  .description('Run a benchmark scenario against --target, or against the built-in simulator when no target is given.')
  .option('--target <url>', "the server's base URL (OpenAI-compatible, without /v1); default: start the simulator", httpUrl)
  .option('--model <name>', 'model to request (default: server.model_name, else the first of /v1/models)')
  .option('--scenario <name>', 'preset scenario', 'baseline')
  .option('--config <file>', 'an inference-perf style config.yml (replaces the preset)')
  .option('--duration <seconds>', 'duration of every load stage', positiveNumber('seconds'))
  .option('--rate <rps>', 'request rate of every load stage', positiveNumber('requests per second'))
  .option('--out <dir>', 'parent directory of the run directory <out>/<runId>/', 'results')
  .option('--run-id <id>', 'run id (default: UTC time + random suffix)')
  .option('--shard <i/N>', 'this pod’s slice of the schedule in an Indexed Job', shardSpec, { index: 0, count: 1 })
  .option('--grace <seconds>', 'after Ctrl-C, how long in-flight requests may finish', nonNegativeNumber('seconds'), 10)
  .option('--zone <az>', 'availability zone of this runner, recorded in the summary')
  .action(async (opts) =>
    exit(
      await runCommand(opts, {
        clock: systemClock,
        now: () => new Date(),
        random: Math.random,
        interrupt: interrupt.signal,
        stdout: process.stdout,
        stderr: process.stderr,
      }),
    ),
  );

program
  .command('simulate')
  .description('Run the vLLM-compatible simulator alone (for measuring the runner or testing dashboards).')
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--port <port>', 'port (0 = any free port)', port, 8000)
  .option('--model <name...>', 'served model name(s)', ['qwen3-8b'])
  .option('--ttft-ms <ms>', 'time to first token before prefill cost', nonNegativeNumber('ms'))
  .option('--prefill-ms-per-token <ms>', 'extra TTFT per prompt token', nonNegativeNumber('ms'))
  .option('--itl-ms <ms>', 'inter-token latency', nonNegativeNumber('ms'))
  .option('--jitter-ms <ms>', 'bounded uniform jitter on each inter-token gap', nonNegativeNumber('ms'))
  .option('--tokens-per-chunk <n>', 'tokens per streamed chunk', positiveNumber('tokens'))
  .option('--max-concurrency <n>', 'requests generating at once; the rest queue', positiveNumber('requests'))
  .option('--error-rate <p>', 'probability that a request fails', probability)
  .addOption(new Option('--failure-modes <mode...>', 'how injected failures fail').choices(['status', 'abort', 'stall', 'in-band']))
  .option('--error-status <code>', 'HTTP status of the "status" failure', positiveNumber('HTTP status'))
  .option('--stall-ms <ms>', 'how long a "stall" failure holds the connection', nonNegativeNumber('ms'))
  .option('--seed <n>', 'random seed', nonNegativeNumber('seed'))
  .option('--ground-truth <file>', 'append the ground-truth log (when each chunk was written) to this NDJSON file')
  .action(async (o) =>
    exit(
      await simulateCommand(
        {
          host: o.host,
          port: o.port,
          models: o.model,
          ttftMs: o.ttftMs,
          prefillMsPerToken: o.prefillMsPerToken,
          itlMs: o.itlMs,
          jitterMs: o.jitterMs,
          tokensPerChunk: o.tokensPerChunk,
          maxConcurrency: o.maxConcurrency,
          errorRate: o.errorRate,
          failureModes: o.failureModes,
          errorStatus: o.errorStatus,
          stallMs: o.stallMs,
          seed: o.seed,
          groundTruthFile: o.groundTruth,
        },
        { stdout: process.stdout, interrupt: interrupt.signal },
      ),
    ),
  );

function exit(code: number): void {
  process.exitCode = code;
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof InputError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exitCode = 2;
  } else if (err instanceof Interrupted) {
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 130;
  } else throw err;
}
