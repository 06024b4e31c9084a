import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_COMPARE_OPTIONS } from '../core/compare/compare.ts';
import { InputError, OperationFailed } from '../core/errors.ts';
import { randomSuffix } from '../core/run-spec/naming.ts';
import { clusterAccessModes, DEFAULT_STACK_NAME, runnerCredentialModes } from '../core/run-spec/stack-defaults.ts';
import { SEED_MODEL } from '../core/scenario/presets.ts';
import { defaultNamespace } from '../core/summary/published.ts';
import { Interrupted } from '../runner/interrupted.ts';
import { dialectNames, type DialectName } from '../simulator/index.ts';
import type { LocalStack } from '../core/ports/local-stack.ts';
import type { Clock } from '../timing/clock.ts';
import { aggregateCommand } from './commands/aggregate.ts';
import { renderCommand } from './commands/render.ts';
import { runCommand } from './commands/run.ts';
import { simulateCommand } from './commands/simulate.ts';
import { regionOfArn, startCommand, STATE_MACHINE_ARN } from './commands/start.ts';
import { EXIT } from './exit-codes.ts';
import { endpointUrl, errorStatus, positiveInteger, fetchUrl, httpUrl, kubernetesName, metricNamespace, nonEmpty, nonNegativeInteger, nonNegativeNumber, metricsUrls, oneOf, outLocation, port, positiveNumber, probability, runIdOption, runnerKind, scenarioLabel, sha256Hex, shardSpec, windowSize, workerCount, zoneName } from './options.ts';

/** Everything the command line touches, so it runs in-process in tests exactly as from a shell. */
import type { HubAccess } from '../runner/tokenizer-source.ts';

/**
 * What a command does when a second Ctrl-C quits the process at once: `say` runs synchronously
 * (the process exits right after) and returns the line to print — e.g. where it saved what was measured.
 */
export interface QuitHook {
  say?: () => string;
}

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  clock: Clock;
  now: () => Date;
  random: () => number;
  /**
   * A command that stops cleanly on Ctrl-C / SIGTERM asks for its signal here, saying what it will
   * do; commands that do not ask keep the default (Ctrl-C ends the process at once).
   */
  interruptible(stopMessage: string, onQuit?: QuitHook): AbortSignal;
  version: string;
  /** The CPUs this process may use (os.availableParallelism()): how many worker threads fit here. */
  cpus: number;
  /** Where a tokenizer named by a Hugging Face model id comes from (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE). */
  hub: HubAccess;
  /**
   * The stack as the local cloud needs it (infra/local-stack.ts), for `workflow`: handed in by the
   * composition root (bin/inference-baseline.js); the runner bundle has none.
   */
  localStack?: () => Promise<LocalStack>;
}

export { EXIT };

/**
 * Parses `argv` (without the node and script names) and runs the command; returns the exit code.
 * A user's mistake — a bad flag, a bad file, an unreachable target — is one message on stderr and
 * exit 2; anything else is a bug and is thrown to the entry point, which prints it as one.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(io, (c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      if (err.exitCode === 0) return EXIT.ok;
      if (err.code === 'commander.help') {
        // No command, or `help <unknown>`: commander sends the help where errors go; show it there.
        const unknown = argv[0] === 'help' && argv[1] ? `error: unknown command '${argv[1]}'\n\n` : '';
        io.stderr.write(`${unknown}${program.helpInformation()}`);
        return EXIT.usage;
      }
      io.stderr.write(`${err.message.replace(/^error: /, 'error: ')}\n(see inference-baseline ${commandName(argv)}--help)\n`);
      return EXIT.usage;
    }
    if (err instanceof InputError) {
      io.stderr.write(`error: ${err.message}\n`);
      return EXIT.usage;
    }
    if (err instanceof OperationFailed) {
      io.stderr.write(`error: ${err.message}\n`);
      return EXIT.failed;
    }
    if (err instanceof Interrupted) {
      io.stderr.write(`${err.message}\n`);
      return EXIT.interrupted;
    }
    throw err;
  }
}

function commandName(argv: string[]): string {
  const first = argv.find((a) => !a.startsWith('-'));
  return first && ['run', 'workflow', 'simulate', 'aggregate', 'compare', 'history', 'start', 'render'].includes(first) ? `${first} ` : '';
}

function buildProgram(io: CliIo, exit: (code: number) => void): Command {
  const program = new Command('inference-baseline')
    .description('Baseline latency of LLM inference endpoints: ttft, itl, tpot, ntpot, e2e and schedule delay, with a validity verdict.')
    .version(io.version, '-V, --version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: () => undefined });
  // Every subcommand throws instead of exiting, and prints its help (not its errors) itself.
  const command: NewCommand = (name) =>
    program
      .command(name)
      .exitOverride()
      .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: () => undefined });
  addRunCommand(command, io, exit);
  addWorkflowCommand(command, io, exit);
  addSimulateCommand(command, io, exit);
  addAggregateCommand(command, io, exit);
  addCompareCommand(command, io, exit);
  addHistoryCommand(command, io, exit);
  addStartCommand(command, io, exit);
  addRenderCommand(command, io);
  return program;
}

/** A subcommand of the program, set up to throw instead of exiting. */
type NewCommand = (name: string) => Command;

function addRunCommand(command: NewCommand, io: CliIo, exit: (code: number) => void): void {
  command('run')
    .description('Run a benchmark scenario against --target, or against the built-in simulator when no target is given.')
    .option('--target <url>', "the server's base URL (OpenAI-compatible, without /v1); default: start the simulator", httpUrl)
    .option('--model <name>', 'model to request (default: server.model_name, else the first of /v1/models)', nonEmpty('a model name'))
    .option('--scenario <name>', 'preset scenario (default: baseline; not with --config)')
    .option('--name <scenario>', 'the scenario name recorded for the run (default: the preset, or "custom" with --config)', scenarioLabel)
    .option('--config <file>', "an inference-perf style config.yml (replaces the preset; its server.base_url is the target unless --target says otherwise)")
    .option('--duration <seconds>', 'duration of every load stage', positiveNumber('seconds'))
    .option('--rate <rps>', 'request rate of every load stage', positiveNumber('requests per second'))
    .option('--out <dir>', 'parent directory of the run directory <out>/<runId>/ (or s3://bucket/prefix)', outLocation, 'results')
    .option('--run-id <id>', 'run id: UTC time + "-" + 4–12 lower-case letters/digits (default: now + a random suffix)')
    .option('--seed <n>', "the prompts' and schedule's seed, to reproduce a run (default: derived from the run id: fresh prompts every run)", nonNegativeInteger('seed'))
    .option('--workers <n>', 'worker threads in this runner, each sending its slice of the schedule (load.num_workers; the baseline preset has 4)', workerCount)
    .addOption(new Option('--shard <i/N>', 'this pod’s slice of the schedule in an Indexed Job').argParser(shardSpec).default({ index: 0, count: 1 }, '0/1'))
    .option('--grace <seconds>', 'after Ctrl-C, how long in-flight requests may finish', nonNegativeNumber('seconds'), 10)
    .option('--metrics-url <url>', "a replica's Prometheus endpoint, scraped before, during and after the load (repeat it for each replica; default: the target's /metrics)", metricsUrls)
    .option('--no-metrics', "do not scrape the server's metrics (the run then cannot check for foreign load or prefix-cache hits)")
    .option('--metrics-targets <file>', "a JSON array of the target's pod IPs, each scraped at --metrics-port/--metrics-path (the workflow's Job passes it)")
    .option('--metrics-port <port>', 'the replicas\' metrics port, with --metrics-targets', port, 8000)
    .option('--metrics-path <path>', 'the replicas\' metrics path, with --metrics-targets', nonEmpty('a URL path'), '/metrics')
    .option('--zone <az>', 'availability zone of this runner, recorded in the summary', zoneName)
    .option('--s3-endpoint <url>', 'S3 endpoint for --out s3://… (a local S3 server; default: AWS)', endpointUrl)
    .option('--no-aggregate', 'leave aggregation to the workflow (the Job passes it): summary.json has one writer')
    .option('--window <n>', 'earlier valid runs (in <out>/history/) the comparison draws its baseline from', windowSize, DEFAULT_COMPARE_OPTIONS.windowSize)
    .action(async (opts) => {
      const interrupt = io.interruptible('stopping: no new requests; in-flight requests get a grace period');
      exit(await runCommand(opts, { clock: io.clock, now: io.now, random: io.random, interrupt, stdout: io.stdout, stderr: io.stderr, cpus: io.cpus, hub: io.hub }));
    });
}

function addWorkflowCommand(command: NewCommand, io: CliIo, exit: (code: number) => void): void {
  command('workflow')
    .description('Run the benchmark workflow — the state machine `cdk synth` produces — on this machine: simulator (or --target), local S3, the runner bundle in a local Job.')
    .option('--target <url>', "the server's base URL (OpenAI-compatible, without /v1); default: the built-in simulator", httpUrl)
    .option('--model <name>', `model to request (default: the stack default, ${SEED_MODEL.servedName})`, nonEmpty('a model name'))
    .option('--scenario <name>', 'preset scenario (default: baseline)')
    .option('--runner <kind>', 'native or inference-perf (inference-perf cannot run here: the workflow goes as far as its Job)', runnerKind)
    .option('--duration <seconds>', 'duration of every load stage', positiveNumber('seconds'))
    .option('--rate <rps>', 'request rate of every load stage', positiveNumber('requests per second'))
    .option('--seed <n>', "the prompts' and schedule's seed, to reproduce a run (default: from the run id)", nonNegativeInteger('seed'))
    .option('--workers <n>', "the runner's worker threads (load.num_workers; the baseline preset has the seed's 4)", workerCount)
    .option('--input <json>', 'more execution input, as the console takes it (the flags above win)')
    .option('--out <dir>', 'parent directory of the run directory <out>/<runId>/', outLocation, 'results')
    .option('--cluster-access <mode>', "the stack's clusterAccess: public (eks:call) or vpc (the KubeCall Lambda over HTTPS with an EKS token, as for a private endpoint)", oneOf(clusterAccessModes), 'public')
    .option('--runner-credentials <mode>', "the stack's runnerCredentials: pod-identity or irsa (the runner's web identity through STS, as on Fargate)", oneOf(runnerCredentialModes), 'pod-identity')
    .action(async (o) => {
      const quit: QuitHook = {};
      const interrupt = io.interruptible('stopping: the execution is aborted; the reaper then cleans up as on AWS', quit);
      if (!io.localStack) throw new InputError('workflow', ['is not part of the runner bundle (it needs the CDK app)'], 'run it from the repository: npx inference-baseline workflow.');
      // Loaded only here: the local stand-ins (CDK, s3rver, the ASL interpreter) are not in the runner bundle.
      const [{ workflowCommand }, stack] = await Promise.all([import('./commands/workflow.ts'), io.localStack()]);
      exit(await workflowCommand(o, { stdout: io.stdout, stderr: io.stderr, interrupt, stack, cpus: io.cpus, quit }));
    });
}

/** `--dialect`: one of the servers the simulator replays. */
function dialectName(value: string): DialectName {
  if ((dialectNames as readonly string[]).includes(value)) return value as DialectName;
  throw new InvalidArgumentError(`must be one of ${dialectNames.join(', ')} (the server whose wire format the simulator speaks); got "${value}".`);
}

function addSimulateCommand(command: NewCommand, io: CliIo, exit: (code: number) => void): void {
  command('simulate')
    .description('Run the vLLM-compatible simulator alone (for measuring the runner or testing dashboards).')
    .option('--host <host>', 'address to listen on', nonEmpty('an address'), '127.0.0.1')
    .option('--port <port>', 'port (0 = any free port)', port, 8000)
    .option('--model <name...>', 'served model name(s)', [SEED_MODEL.servedName])
    .option('--ttft-ms <ms>', 'time to first token before prefill cost', nonNegativeNumber('ms'))
    .option('--ttft-jitter-ms <ms>', 'uniform jitter on each request\'s TTFT', nonNegativeNumber('ms'))
    .option('--prefill-ms-per-token <ms>', 'extra TTFT per prompt token', nonNegativeNumber('ms'))
    .option('--itl-ms <ms>', 'inter-token latency', nonNegativeNumber('ms'))
    .option('--jitter-ms <ms>', 'bounded uniform jitter on each inter-token gap', nonNegativeNumber('ms'))
    .option('--tokens-per-chunk <n>', 'tokens per streamed chunk', positiveInteger('tokens'))
    .option('--max-concurrency <n>', 'requests generating at once; the rest queue', positiveInteger('requests'))
    .option('--error-rate <p>', 'probability that a request fails', probability)
    .addOption(new Option('--failure-modes <mode...>', 'how injected failures fail').choices(['status', 'abort', 'stall', 'in-band']))
    .option('--error-status <code>', 'HTTP status of the "status" failure (400–599)', errorStatus)
    .option('--stall-ms <ms>', 'how long a "stall" failure holds the connection', nonNegativeNumber('ms'))
    .option('--seed <n>', 'random seed', nonNegativeNumber('seed'))
    .option('--ground-truth <file>', 'append the ground-truth log (when each chunk was written) to this NDJSON file')
    .option('--workers <n>', 'serve from this many processes behind one port (one serves about 200 req/s of 128-token streams)', workerCount, 1)
    .option('--dialect <server>', `whose wire format to speak: ${dialectNames.join(', ')}`, dialectName, 'vllm')
    .option('--tokenizer <name|path>', 'how prompts are counted: words, qwen3 or a tokenizer.json path (default: qwen3 for qwen3-8b, else words)', nonEmpty('a tokenizer'))
    .option('--prefix-cache-blocks <n>', "prefix cache size in 16-token blocks, as vLLM's automatic prefix caching (0 = off; default 16384)", nonNegativeInteger('blocks'))
    .action(async (o) => {
      if ((o.model as string[]).some((m) => m.trim() === '')) throw new InputError('--model', ['a served model name cannot be empty'], `pass the names the simulator serves, e.g. --model ${SEED_MODEL.servedName}.`);
      const interrupt = io.interruptible('stopping the simulator');
      exit(
        await simulateCommand(
          {
            host: o.host,
            port: o.port,
            models: o.model,
            ttftMs: o.ttftMs,
            ttftJitterMs: o.ttftJitterMs,
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
            keepGroundTruth: false,
            dialect: o.dialect,
            tokenizer: o.tokenizer,
            prefixCacheBlocks: o.prefixCacheBlocks,
          },
          { stdout: io.stdout, interrupt },
          o.workers,
        ),
      );
    });
}

function addAggregateCommand(command: NewCommand, io: CliIo, exit: (code: number) => void): void {
  command('aggregate')
    .argument('<results>', 'a run directory, an inference-perf output directory, or s3://bucket/prefix/')
    .description('Aggregate raw results (native shards or inference-perf files) into summary.json, histograms.json and report.html beside them.')
    .option('--emf <file>', 'also append the CloudWatch Embedded Metric Format document (one JSON line) to this file: a new one, or one that holds EMF lines')
    .option('--namespace <ns>', 'CloudWatch namespace for --emf', metricNamespace, defaultNamespace)
    .option('--endpoint <url>', 'S3 endpoint override (a local S3 server)', endpointUrl)
    .option('--no-history', 'aggregate alone: no comparison with the series, no history entry')
    .option('--window <n>', 'earlier valid runs the comparison draws its baseline from', windowSize, DEFAULT_COMPARE_OPTIONS.windowSize)
    .action(async (target: string, o) => exit((await aggregateCommand(target, o, { stdout: io.stdout })).exitCode));
}

function addCompareCommand(command: NewCommand, io: CliIo, exit: (code: number) => void): void {
  command('compare')
    .argument('<run>', 'a run directory or s3://bucket/prefix/ (aggregated: summary.json and histograms.json)')
    .argument('[baseline...]', 'runs to compare against instead of the run\'s history (same workload)')
    .description('Compare a run with its trailing history (or with named runs): change and uncertainty per key metric, what changed. Exit 4 when something regressed.')
    .option('--window <n>', 'earlier valid runs the baseline is drawn from', windowSize, DEFAULT_COMPARE_OPTIONS.windowSize)
    .option('--endpoint <url>', 'S3 endpoint override (a local S3 server)', endpointUrl)
    .action(async (run: string, baseline: string[], o) => {
      const { compareCommand } = await import('./commands/compare.ts');
      exit(await compareCommand(run, baseline, o, { stdout: io.stdout }));
    });
}

function addHistoryCommand(command: NewCommand, io: CliIo, exit: (code: number) => void): void {
  command('history')
    .argument('<location>', 'a results directory (the --out of run/workflow), a series under it, or s3://bucket[/prefix]')
    .description('List the history of each series: date, validity, key metrics, verdict and what changed.')
    .option('--endpoint <url>', 'S3 endpoint override (a local S3 server)', endpointUrl)
    .action(async (location: string, o) => {
      const { historyCommand } = await import('./commands/history.ts');
      exit(await historyCommand(location, o, { stdout: io.stdout }));
    });
}

function stateMachineArn(value: string): string {
  if (!STATE_MACHINE_ARN.test(value)) throw new InvalidArgumentError(`must be a state machine ARN, arn:aws:states:<region>:<account>:stateMachine:<name>; got "${value}".`);
  return value;
}

function addStartCommand(command: NewCommand, io: CliIo, exit: (code: number) => void): void {
  command('start')
    .description("Start the deployed workflow (Step Functions) and print the console link; with --wait, the run's verdict.")
    .option('--stack <name>', 'the CloudFormation stack that holds the state machine', nonEmpty('a stack name'), DEFAULT_STACK_NAME)
    .option('--state-machine <arn>', 'the state machine ARN (skips the lookup by stack; its region is used)', stateMachineArn)
    .option('--input <json>', 'execution input (default {}: the stack’s default baseline)')
    .option('--wait', 'wait for the execution to end and print the verdict')
    .option('--poll-seconds <s>', 'seconds between status checks with --wait', positiveNumber('seconds'), 30)
    .action(async (o) => {
      const { SFNClient } = await import('@aws-sdk/client-sfn');
      const sfn = new SFNClient(o.stateMachine ? { region: regionOfArn(o.stateMachine) } : {});
      try {
        const r = await startCommand(o, { sfn, stdout: io.stdout, sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) });
        exit(r.exitCode);
      } finally {
        sfn.destroy();
      }
    });
}

function addRenderCommand(command: NewCommand, io: CliIo): void {
  command('render')
    .description('Print the ServiceAccount, ConfigMap and Job the workflow would create, as YAML for kubectl apply -f -; with --rbac, the workflow\'s Roles and RoleBindings.')
    .option('--rbac', 'print the Roles and RoleBindings for a stack deployed with workflowKubernetesAccess=rbac (uses --namespace, --target-namespace)')
    .option('--config <file>', 'an inference-perf style config.yml (replaces the preset)')
    .option('--scenario <name>', 'preset scenario (default: baseline; not with --config)')
    .option('--runner <kind>', 'native or inference-perf', runnerKind, 'native')
    .option('--target <url>', "the inference server's base URL, without /v1 (default: the config's server.base_url)", httpUrl)
    .option('--model <name>', 'model name (default: the config’s)', nonEmpty('a model name'))
    .option('--tokenizer <name>', 'tokenizer for inference-perf (default: the config’s)', nonEmpty('a tokenizer name'))
    .option('--pod-selector <selector>', 'label selector of the inference pods (same-zone podAffinity)')
    .option('--target-namespace <ns>', 'namespace of the inference pods')
    .option('--namespace <ns>', 'benchmark namespace', kubernetesName('namespace'))
    .option('--service-account <name>', 'the runner’s ServiceAccount', kubernetesName('ServiceAccount'))
    .option('--bucket <name>', 'results bucket', nonEmpty('a bucket name'))
    .option('--region <region>', 'AWS region of the bucket', nonEmpty('a region'))
    .option('--run-id <id>', 'run id: UTC time + "-" + 4–12 lower-case letters/digits', runIdOption)
    .option('--zone <az>', 'pin the Job to this zone (else a podAffinity to the target pods)', zoneName)
    .option('--image <ref>', 'native runner image built from the Dockerfile', nonEmpty('an image reference'))
    .option('--bundle-url <url>', 'native runner bundle URL (with --bundle-sha256)', fetchUrl)
    .option('--bundle-sha256 <hex>', 'sha256 of the runner bundle', sha256Hex)
    .option('--inference-perf-tag <tag>', 'inference-perf image tag')
    .action((o) => {
      io.stdout.write(
        renderCommand(o, {
          readFile: (path) => {
            try {
              return readFileSync(path, 'utf8');
            } catch (err) {
              throw new InputError(`--config ${path}`, [`cannot be read: ${(err as Error).message}`], 'check the path.');
            }
          },
          now: () => io.now().getTime(),
          randomSuffix: () => randomSuffix(io.random),
        }),
      );
    });
}
