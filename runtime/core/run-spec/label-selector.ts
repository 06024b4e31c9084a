/** Label keys / values as Kubernetes accepts them (equality selectors only). */
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/**
 * Parses an equality label selector (`a=b,c=d`, or a `{a: "b"}` map) into a label map; returns the
 * problems instead when it is not one. Set-based selectors (`in`, `!=`) are not supported: the same
 * labels also become the Job's podAffinity `matchLabels`.
 */
export function parseLabelSelector(selector: string | Record<string, string>): { labels: Record<string, string> } | { problems: string[] } {
  const pairs: Array<[string, string]> = [];
  const problems: string[] = [];
  if (typeof selector === 'string') {
    for (const part of selector.split(',').map((p) => p.trim())) {
      if (part === '') continue;
      const m = /^([^=!\s]+)\s*==?\s*([^=!\s]*)$/.exec(part);
      if (!m) {
        problems.push(`"${part}" is not a key=value pair (only equality selectors are supported)`);
        continue;
      }
      pairs.push([m[1] as string, m[2] as string]);
    }
  } else {
    pairs.push(...Object.entries(selector));
  }
  for (const [key, value] of pairs) {
    if (!LABEL_KEY.test(key) || key.length > 316) problems.push(`"${key}" is not a valid label key`);
    if (!LABEL_VALUE.test(value)) problems.push(`"${value}" (for ${key}) is not a valid label value`);
  }
  if (pairs.length === 0 && problems.length === 0) problems.push('selects no labels; give at least one key=value');
  return problems.length > 0 ? { problems } : { labels: Object.fromEntries(pairs) };
}

export function labelSelectorText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}
