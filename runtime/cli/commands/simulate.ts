import { readFileSync, statSync } from 'node:fs';
import { InputError } from '../../core/errors.ts';
import { isSimulatorWorker, serveAsWorker, startSimulatorCluster } from '../../simulator/cluster.ts';
import { resolveSimulatorOptions, startSimulator, type SimulatorOptions } from '../../simulator/index.ts';
import { EXIT } from '../exit-codes.ts';
import { holdsOnlyOurLines } from '../support/appended-file.ts';

/**
 * `inference-baseline simulate`: the vLLM-compatible simulator (or, with `dialect`, another server's
 * replay) alone, until Ctrl-C; with
 * `workers` > 1, that many processes behind one port (simulator/cluster.ts).
 */
export async function simulateCommand(opts: SimulatorOptions, io: { stdout: NodeJS.WritableStream; interrupt: AbortSignal }, workers = 1): Promise<number> {
  if (isSimulatorWorker()) return serveAsWorker(opts, io.interrupt);
  const o = resolveSimulatorOptions(opts);
  if (o.groundTruthFile) checkGroundTruthFile(o.groundTruthFile);
  const sim = workers > 1 ? await startSimulatorCluster(opts, workers) : await startSimulator(opts);
  io.stdout.write(
    `simulator listening on ${sim.url}${workers > 1 ? ` (${workers} worker processes)` : ''} — ${o.dialect === 'vllm' ? '' : `${o.dialect} dialect; `}models ${o.models.join(', ')} (tokenizer ${o.tokenizer}); ttft ${o.ttftMs} ms + ${o.prefillMsPerToken} ms/prompt token, itl ${o.itlMs} ± ${o.jitterMs} ms` +
      `${o.errorRate > 0 ? `; error rate ${o.errorRate} (${o.failureModes.join(', ')})` : ''}${o.groundTruthFile ? `; ground truth → ${o.groundTruthFile}` : ''}\n`,
  );
  // An interrupt that came while starting has already fired: waiting for its event would never end.
  if (!io.interrupt.aborted) await new Promise<void>((resolve) => io.interrupt.addEventListener('abort', () => resolve(), { once: true }));
  await sim.close();
  return EXIT.ok;
}

/**
 * The ground-truth log is appended to: an existing file must be one an earlier `--ground-truth`
 * wrote (its last line a ground-truth entry), never an unrelated file the log would be mixed into.
 */
function checkGroundTruthFile(path: string): void {
  let text: string;
  try {
    if (!statSync(path).isFile()) return; // a directory or device: the simulator's own open says why
    text = readFileSync(path, 'utf8');
  } catch {
    return; // absent (created) or unreadable (the simulator's own open says why)
  }
  if (!holdsOnlyOurLines(text, (line) => 'requestId' in line && 'model' in line)) throw new InputError(`--ground-truth ${path}`, ['exists and does not hold ground-truth lines (its last line is not one): appending would mix the log into an unrelated file'], 'pass a new file, or one an earlier --ground-truth wrote.');
}
