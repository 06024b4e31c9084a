/**
 * A file a command appends JSON lines to (`aggregate --emf`, `simulate --ground-truth`) is one of its
 * own when it is empty or its last line is one of those lines (`isOurs`); any other file is someone
 * else's, and appending would mix the lines into it.
 */
export function holdsOnlyOurLines(text: string, isOurs: (line: Record<string, unknown>) => boolean): boolean {
  const last = text.trimEnd().split('\n').at(-1) ?? '';
  if (last === '') return true;
  try {
    const obj = JSON.parse(last) as unknown;
    return obj !== null && typeof obj === 'object' && !Array.isArray(obj) && isOurs(obj as Record<string, unknown>);
  } catch {
    return false;
  }
}
