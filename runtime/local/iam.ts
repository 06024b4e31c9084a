import { createHash } from 'node:crypto';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { LOCAL_ENV, type LocalIamModel } from '../core/ports/local-stack.ts';

/**
 * AWS IAM in the local cloud: every role the stack declares gets credentials of its own, and every
 * AWS call made with them — the Lambda handlers', the runner pod's, the state machine's — is
 * authorized against that role's policies as synthesized in the template (and the bucket's policy
 * for S3), by a maintained IAM policy evaluator (@cloud-copilot/iam-simulate), not by hand-written
 * rules. The local administrator (the harness itself: uploading the bundle, reading results for a
 * test) is not evaluated.
 */

export interface LocalCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface Principal {
  /** The role's ARN, or 'admin'. */
  roleArn: string;
  /** As AWS names the caller in a denial: `arn:aws:sts::<account>:assumed-role/<role>/<session>`. */
  sessionArn: string;
  credentials: LocalCredentials;
}

export interface Decision {
  allowed: boolean;
  /** AWS's words for a denial ("User: … is not authorized to perform: … on resource: … because …"). */
  message: string;
}

export class LocalIam {
  private readonly byKey = new Map<string, Principal>();
  private readonly cache = new Map<string, Promise<Decision>>();

  constructor(
    private readonly model: LocalIamModel,
    readonly admin: LocalCredentials,
  ) {
    this.byKey.set(admin.accessKeyId, { roleArn: 'admin', sessionArn: `arn:aws:iam::${LOCAL_ENV.account}:root`, credentials: admin });
    for (const [roleArn, role] of Object.entries(model.roles)) {
      // Deterministic per role, as an STS session's would look: ASIA + 16 characters.
      const digest = createHash('sha256').update(roleArn).digest('hex').toUpperCase();
      const credentials = { accessKeyId: `ASIA${digest.slice(0, 16)}`, secretAccessKey: digest.slice(16, 56), sessionToken: `local-session-${role.name}` };
      this.byKey.set(credentials.accessKeyId, { roleArn, sessionArn: `arn:aws:sts::${LOCAL_ENV.account}:assumed-role/${role.name}/local`, credentials });
    }
  }

  /** The principals the stack's parts run as (PrepareRun, the workflow, the runner, …). */
  get principals(): LocalIamModel['principals'] {
    return this.model.principals;
  }

  /** A role's session credentials. */
  credentialsFor(roleArn: string): LocalCredentials {
    const p = [...this.byKey.values()].find((x) => x.roleArn === roleArn);
    if (!p) throw new Error(`the local cloud has no role ${roleArn}`);
    return p.credentials;
  }

  /** Who signed with this access key (undefined: nobody the local account knows). */
  principalOf(accessKeyId: string): Principal | undefined {
    return this.byKey.get(accessKeyId);
  }

  /**
   * Whether `principal` may do `action` on `resource` (an ARN), with the request's context keys —
   * identity policies, and the bucket's policy when `resource` is in a bucket. Decisions are
   * cached: the same question gets the same answer.
   */
  authorize(principal: Principal, action: string, resource: string, context: Record<string, string | string[]> = {}): Promise<Decision> {
    if (principal.roleArn === 'admin') return Promise.resolve({ allowed: true, message: '' });
    const key = JSON.stringify([principal.roleArn, action, resource, context]);
    let decision = this.cache.get(key);
    if (!decision) {
      decision = this.evaluate(principal, action, resource, context);
      this.cache.set(key, decision);
    }
    return decision;
  }

  /**
   * Whether `roleArn`'s trust policy lets a web identity assume it (STS AssumeRoleWithWebIdentity
   * after the token itself was verified): the principal is the IAM OIDC provider's ARN (what
   * `"Principal": {"Federated": …}` names), the token's claims are the condition keys
   * `<issuer>:sub` and `<issuer>:aud`. A role the account does not have is refused like one that
   * does not trust the caller (STS tells them apart to nobody).
   *
   * The evaluator knows only the OIDC condition keys AWS lists for well-known providers
   * (accounts.google.com, cognito-identity.amazonaws.com, …), not a cluster's issuer, whose keys it
   * would silently drop — so no condition naming them could ever match. The issuer's `sub` and
   * `aud` keys are therefore renamed, in the trust policy and in the request alike, to
   * accounts.google.com's (same meaning, same String type), and the evaluator applies IAM's full
   * semantics (operators, Deny, IfExists) to them. Any other key of the issuer stays unknown, so a
   * condition on it never matches: a refusal, never a grant.
   */
  async authorizeWebIdentity(roleArn: string, q: { providerArn: string; issuer: string; claims: { sub: string; aud: string }; sessionName: string }): Promise<Decision> {
    const denied: Decision = { allowed: false, message: 'Not authorized to perform sts:AssumeRoleWithWebIdentity' };
    const role = this.model.roles[roleArn];
    if (!role) return denied;
    const result = await runSimulation(
      {
        request: {
          action: 'sts:AssumeRoleWithWebIdentity',
          principal: q.providerArn,
          resource: { resource: roleArn, accountId: LOCAL_ENV.account },
          contextVariables: { [`${ALIAS}:sub`]: q.claims.sub, [`${ALIAS}:aud`]: q.claims.aud, 'aws:FederatedProvider': q.providerArn, 'sts:RoleSessionName': q.sessionName },
        },
        identityPolicies: [],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: aliasIssuerKeys(role.trust, q.issuer) as Parameters<typeof runSimulation>[0]['resourcePolicy'],
      },
      {},
    );
    if (result.resultType === 'error') throw new Error(`the local IAM evaluator refused the trust policy of ${roleArn}: ${result.errors.message}`);
    return result.overallResult === 'Allowed' ? { allowed: true, message: '' } : denied;
  }

  private async evaluate(principal: Principal, action: string, resource: string, context: Record<string, string | string[]>): Promise<Decision> {
    const role = this.model.roles[principal.roleArn]!;
    // The resource's own policy: a bucket's policy, or a role's trust policy for sts:AssumeRole.
    const bucket = /^arn:aws:s3:::([^/]+)/.exec(resource)?.[1];
    const resourcePolicy = bucket ? this.model.bucketPolicies[bucket] : action === 'sts:AssumeRole' ? this.model.roles[resource]?.trust : undefined;
    const result = await runSimulation(
      {
        request: {
          action,
          principal: principal.sessionArn,
          resource: { resource, accountId: LOCAL_ENV.account },
          // Every client of the stack speaks TLS on AWS; the local services are plain HTTP on loopback.
          contextVariables: { 'aws:SecureTransport': 'true', 'aws:PrincipalArn': principal.roleArn, 'aws:PrincipalAccount': LOCAL_ENV.account, ...context },
        },
        identityPolicies: role.policies.map((p) => ({ name: p.name, policy: p.document })),
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        ...(resourcePolicy ? { resourcePolicy } : {}),
      },
      {},
    );
    if (result.resultType === 'error') throw new Error(`the local IAM evaluator refused the question ${action} on ${resource}: ${result.errors.message}`);
    if (result.overallResult === 'Allowed') return { allowed: true, message: '' };
    const why = result.overallResult === 'ExplicitlyDenied' ? 'with an explicit deny in a policy' : `because no identity-based policy allows the ${action} action`;
    return { allowed: false, message: `User: ${principal.sessionArn} is not authorized to perform: ${action} on resource: "${resource}" ${why}` };
  }
}

/** The provider whose `sub`/`aud` condition keys stand for a cluster issuer's (see `authorizeWebIdentity`). */
const ALIAS = 'accounts.google.com';

/** The trust policy with `<issuer>:sub` / `<issuer>:aud` condition keys (case-insensitive, as IAM reads them) renamed to ALIAS's. */
function aliasIssuerKeys(trust: unknown, issuer: string): unknown {
  const text = JSON.stringify(trust ?? {});
  if (text.toLowerCase().includes(`"${ALIAS}:`)) throw new Error(`the local IAM cannot evaluate a trust policy that names ${ALIAS}'s condition keys beside a cluster issuer's`);
  const doc = JSON.parse(text) as { Statement?: unknown };
  const statements = [doc.Statement ?? []].flat() as Array<{ Condition?: Record<string, Record<string, unknown>> }>;
  const prefix = `${issuer.toLowerCase()}:`;
  for (const st of statements) {
    for (const [operator, keys] of Object.entries(st.Condition ?? {})) {
      st.Condition![operator] = Object.fromEntries(
        Object.entries(keys).map(([k, v]) => {
          const claim = k.toLowerCase().startsWith(prefix) ? k.slice(prefix.length).toLowerCase() : undefined;
          return [claim === 'sub' || claim === 'aud' ? `${ALIAS}:${claim}` : k, v];
        }),
      );
    }
  }
  return doc;
}
