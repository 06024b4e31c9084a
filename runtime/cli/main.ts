import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { InputError } from '../core/errors.ts';
import { Interrupted } from '../runner/run.ts';
import { systemClock } from '../timing/clock.ts';
import { httpUrl, nonNegativeNumber, port, positiveNumber, probability, shardSpec } from './options.ts';
import { runCommand } from './commands/run.ts';
import { simulateCommand } from './commands/simulate.ts';
import { aggregateCommand } from './commands/aggregate.ts';
import { DEFAULT_STACK, startCommand } from './commands/start.ts';
import { renderCommand } from './commands/render.ts';

/**
 * The `inference-baseline` command line. Commands are thin: parse flags here, delegate to
 * `commands/*`, turn a user's mistake (InputError) into one message and exit code 2.
 */
const interrupt = new AbortController();
let stopMessage = 'stopping';
let interrupts = 0;
process.on('SIGINT', () => {
  interrupts += 1;
  if (interrupts > 1) process.exit(130);
  process.stderr.write(`\n${stopMessage} (Ctrl-C again to quit now)\n`);
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
  .option('--s3-endpoint <url>', 'S3 endpoint for --out s3://… (a local S3 server; default: AWS)')
  .action(async (opts) => {
    stopMessage = 'stopping: no new requests; in-flight requests get a grace period';
    exit(
      await runCommand(opts, {
        clock: systemClock,
        now: () => new Date(),
        random: Math.random,
        interrupt: interrupt.signal,
        stdout: process.stdout,
        stderr: process.stderr,
      }),
    );
  });

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

program
  .command('aggregate')
  .argument('<results>', 'a run directory, an inference-perf output directory, or s3://bucket/prefix/')
  .description('Aggregate raw results (native shards or inference-perf files) into summary.json, histograms.json and report.html beside them.')
  .option('--emf <file>', 'also write the CloudWatch Embedded Metric Format document to this file')
  .option('--namespace <ns>', 'CloudWatch namespace for --emf', 'InferenceBaseline')
  .option('--endpoint <url>', 'S3 endpoint override (a local S3 server)')
  .action(async (target: string, o) => exit((await aggregateCommand(target, o, { stdout: process.stdout })).exitCode));

program
  .command('start')
  .description("Start the deployed workflow (Step Functions) and print the console link; with --wait, the run's verdict.")
  .option('--stack <name>', 'the CloudFormation stack that holds the state machine', DEFAULT_STACK)
  .option('--state-machine <arn>', 'the state machine ARN (skips the lookup by stack)')
  .option('--input <json>', 'execution input (default {}: the stack’s default baseline)')
  .option('--wait', 'wait for the execution to end and print the verdict')
  .option('--poll-seconds <s>', 'seconds between status checks with --wait', positiveNumber('seconds'), 30)
  .action(async (o) => {
    const { SFNClient } = await import('@aws-sdk/client-sfn');
    const r = await startCommand(o, { sfn: new SFNClient({}), stdout: process.stdout, sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) });
    exit(r.exitCode);
  });

program
  .command('render')
  .description('Print the ServiceAccount, ConfigMap and Job the workflow would create, as YAML for kubectl apply -f -.')
  .option('--config <file>', 'an inference-perf style config.yml (replaces the preset)')
  .option('--scenario <name>', 'preset scenario', 'baseline')
  .option('--runner <kind>', 'native or inference-perf', 'native')
  .option('--target <url>', "the inference server's base URL (default: the config's server.base_url)")
  .option('--model <name>', 'model name (default: the config’s)')
  .option('--tokenizer <name>', 'tokenizer for inference-perf (default: the config’s)')
  .option('--pod-selector <selector>', 'label selector of the inference pods (same-zone podAffinity)')
  .option('--target-namespace <ns>', 'namespace of the inference pods')
  .option('--namespace <ns>', 'benchmark namespace')
  .option('--service-account <name>', 'the runner’s ServiceAccount')
  .option('--bucket <name>', 'results bucket')
  .option('--region <region>', 'AWS region of the bucket')
  .option('--run-id <id>', 'run id')
  .option('--zone <az>', 'pin the Job to this zone (else a podAffinity to the target pods)')
  .option('--image <ref>', 'native runner image built from the Dockerfile')
  .option('--bundle-url <url>', 'native runner bundle URL (with --bundle-sha256)')
  .option('--bundle-sha256 <hex>', 'sha256 of the runner bundle')
  .option('--inference-perf-tag <tag>', 'inference-perf image tag')
  .action((o) => {
    process.stdout.write(
      renderCommand(o, {
        readFile: (path) => readFileSync(path, 'utf8'),
        now: () => Date.now(),
        randomSuffix: () => Math.floor(Math.random() * 0x1000000).toString(16).padStart(6, '0'),
      }),
    );
  });

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
