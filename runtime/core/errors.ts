/**
 * A problem the user can fix: names the input, lists every problem found, and says how to fix it.
 * Entry points print `message` and exit non-zero; nothing else about the error is shown.
 */
export class InputError extends Error {
  constructor(
    readonly input: string,
    readonly problems: string[],
    readonly fix?: string,
  ) {
    super(formatInputError(input, problems, fix));
    this.name = 'InputError';
  }
}

function formatInputError(input: string, problems: string[], fix?: string): string {
  const head = problems.length === 1 ? `${input}: ${problems[0]}` : `${input}: ${problems.length} problems:\n${problems.map((p) => `  - ${p}`).join('\n')}`;
  return fix ? `${head}\nFix: ${fix}` : head;
}
