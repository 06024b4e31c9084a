import { startSimulator, type SimulatorOptions } from '../../simulator/index.ts';

/** `inference-baseline simulate`: the vLLM-compatible simulator alone, until Ctrl-C. */
export async function simulateCommand(opts: SimulatorOptions, io: { stdout: NodeJS.WritableStream; interrupt: AbortSignal }): Promise<number> {
  const sim = await startSimulator(opts);
  const o = sim.options;
  io.stdout.write(
    `simulator listening on ${sim.url} — models ${o.models.join(', ')}; ttft ${o.ttftMs} ms + ${o.prefillMsPerToken} ms/prompt token, itl ${o.itlMs} ± ${o.jitterMs} ms` +
      `${o.errorRate > 0 ? `; error rate ${o.errorRate} (${o.failureModes.join(', ')})` : ''}${o.groundTruthFile ? `; ground truth → ${o.groundTruthFile}` : ''}\n`,
  );
  await new Promise<void>((resolve) => io.interrupt.addEventListener('abort', () => resolve(), { once: true }));
  await sim.close();
  return 0;
}
