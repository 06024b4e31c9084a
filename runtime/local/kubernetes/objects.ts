/**
 * What the local Kubernetes stand-in answers with: objects as plain JSON (what the API returns),
 * Kubernetes' `Status` error bodies, label and field selectors. The workflow calls it through
 * `eks:call`, whose errors are named `EKS.<HTTP status>`.
 */

export type KubeObject = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; uid?: string; labels?: Record<string, string>; ownerReferences?: Array<{ apiVersion?: string; uid: string; kind: string; name: string }>; [k: string]: unknown };
};

/** An error of the Kubernetes API as `eks:call` reports it: name `EKS.<status>`, the Status body as its message. */
export class KubernetesApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, details, code: status }));
    this.name = `EKS.${status}`;
  }
}

export const notFound = (resource: string, name: string): KubernetesApiError =>
  new KubernetesApiError(404, 'NotFound', `${resource} "${name}" not found`, { name, kind: resource });

export const alreadyExists = (resource: string, name: string): KubernetesApiError =>
  new KubernetesApiError(409, 'AlreadyExists', `${resource} "${name}" already exists`, { name, kind: resource });

export const invalid = (kind: string, name: string, causes: string[]): KubernetesApiError =>
  new KubernetesApiError(422, 'Invalid', `${kind} "${name}" is invalid: ${causes.join(', ')}`, { name, kind });

/** Equality label selectors (`a=b,c=d`), as the workflow sends them. */
export function matchesLabels(obj: KubeObject, selector: string | undefined): boolean {
  if (!selector) return true;
  const labels = obj.metadata.labels ?? {};
  return selector
    .split(',')
    .filter(Boolean)
    .every((pair) => {
      const [k, v] = pair.split(/==?/) as [string, string | undefined];
      return labels[k.trim()] === (v ?? '').trim();
    });
}

/** The field selectors the workflow uses: `status.phase=…`, `metadata.name=…`. */
export function matchesFields(obj: KubeObject, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector
    .split(',')
    .filter(Boolean)
    .every((pair) => {
      const [path, want] = pair.split(/==?/) as [string, string];
      const got = path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
      return String(got) === want;
    });
}

/** `kind: XList` with items. */
export function list(kind: string, items: KubeObject[]): Record<string, unknown> {
  return { kind: `${kind}List`, apiVersion: kind === 'Job' ? 'batch/v1' : 'v1', metadata: { resourceVersion: '1' }, items };
}
