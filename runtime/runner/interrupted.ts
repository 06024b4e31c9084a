/** Ctrl-C before the first request: nothing was measured and nothing was created. */
export class Interrupted extends Error {
  constructor() {
    super('interrupted before the first request: nothing was measured, no results were written');
    this.name = 'Interrupted';
  }
}

/** A preparation step, or Interrupted as soon as the signal fires (the step is abandoned, its outcome ignored). */
export function untilInterrupted<T>(signal: AbortSignal, step: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Interrupted());
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    step.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
