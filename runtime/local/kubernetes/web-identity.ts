import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import { decodeJwt, errors, generateKeyPair, jwtVerify, SignJWT, type CryptoKey } from 'jose';
import { LOCAL_ENV } from '../../core/ports/local-stack.ts';
import type { LocalIam } from '../iam.ts';
import { closeServer, listenOnLoopback } from '../loopback-server.ts';

/**
 * IRSA (IAM roles for service accounts), locally: the cluster's OIDC issuer, which signs the
 * projected ServiceAccount tokens EKS's pod identity webhook mounts into the pods of an annotated
 * ServiceAccount, and STS's AssumeRoleWithWebIdentity, which trades such a token for the role's
 * credentials. The SDK's default chain in the pod finds AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE
 * and calls STS exactly as on EKS (Fargate included); only the endpoint is this machine's.
 *
 * STS here says no where AWS does, with AWS's codes: a token not signed by the issuer's key, of an
 * issuer the account has no OIDC provider for, expired, or for another audience is refused before
 * any policy is read; then the role's trust policy decides (LocalIam, a maintained evaluator), so a
 * ServiceAccount the trust does not name, or a role trusting Pod Identity only, is AccessDenied.
 *
 * Not played: the issuer's discovery document and JWKS (STS here holds the key itself), and the
 * kubelet's refresh of the token before it expires (runs are far shorter than its 24 h).
 */

/** The audience EKS gives projected tokens, and the client ID of the account's OIDC provider for the cluster. */
export const STS_AUDIENCE = 'sts.amazonaws.com';
/** The local cluster's issuer: an EKS issuer's shape (what the stack's `oidcIssuer` setting accepts). */
export const LOCAL_OIDC_ISSUER = `oidc.eks.${LOCAL_ENV.region}.amazonaws.com/id/10CA1${'0'.repeat(27)}`;

const XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const ACTION = 'sts:AssumeRoleWithWebIdentity';

export interface WebIdentityOptions {
  iam: Pick<LocalIam, 'credentialsFor' | 'authorizeWebIdentity'>;
  /** The issuer's host/path (`https://` optional), as the roles' trust policies name it. */
  issuer?: string;
  /** Epoch ms on the cloud's clock: token times, their expiry, credential expirations. */
  now?: () => number;
  /** The projected token's lifetime (EKS: 86400 s). */
  tokenLifetimeSeconds?: number;
}

export interface STSFailure {
  code: 'InvalidIdentityToken' | 'ExpiredTokenException' | 'AccessDenied' | 'ValidationError' | 'InvalidAction' | 'InternalFailure';
  status: 400 | 403 | 500;
  message: string;
}

export class WebIdentity {
  /** The issuer's host/path, as condition keys (`<issuer>:sub`) and the provider's ARN name it. */
  readonly issuer: string;
  /** The OIDC provider's ARN: the `Federated` principal of an IRSA trust policy. */
  readonly providerArn: string;
  /** Every session STS granted (the role, the ServiceAccount it went to): what tests check the runner came in by. */
  readonly granted: Array<{ roleArn: string; subject: string }> = [];
  private readonly server = http.createServer((req, res) => void this.answer(req, res).catch(() => res.destroy()));
  private readonly now: () => number;
  private port = 0;

  private constructor(
    private readonly o: WebIdentityOptions,
    private readonly keys: { privateKey: CryptoKey; publicKey: CryptoKey; kid: string },
  ) {
    this.issuer = (o.issuer ?? LOCAL_OIDC_ISSUER).replace(/^https:\/\//, '').replace(/\/+$/, '');
    this.providerArn = `arn:aws:iam::${LOCAL_ENV.account}:oidc-provider/${this.issuer}`;
    this.now = o.now ?? Date.now;
  }

  /** A new issuer with a key of its own (RS256, as EKS's), its STS not listening yet. */
  static async create(o: WebIdentityOptions): Promise<WebIdentity> {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    return new WebIdentity(o, { privateKey, publicKey, kid: randomUUID() });
  }

  /** The issuer as the token's `iss` says it. */
  get issuerUrl(): string {
    return `https://${this.issuer}`;
  }

  /** STS's endpoint (what AWS_ENDPOINT_URL_STS points at). */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.port = await listenOnLoopback(this.server);
  }

  stop(): Promise<void> {
    return closeServer(this.server);
  }

  /** A projected ServiceAccount token as the kubelet gets it from the API server (TokenRequest). */
  signToken(namespace: string, serviceAccount: string, o: { issuedAtMs?: number; audience?: string } = {}): Promise<string> {
    const iat = Math.floor((o.issuedAtMs ?? this.now()) / 1000);
    return new SignJWT({ 'kubernetes.io': { namespace, serviceaccount: { name: serviceAccount } } })
      .setProtectedHeader({ alg: 'RS256', kid: this.keys.kid })
      .setIssuer(this.issuerUrl)
      .setSubject(`system:serviceaccount:${namespace}:${serviceAccount}`)
      .setAudience([o.audience ?? STS_AUDIENCE])
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + (this.o.tokenLifetimeSeconds ?? 86_400))
      .sign(this.keys.privateKey);
  }

  /**
   * What EKS's pod identity webhook gives a pod whose ServiceAccount is annotated with `roleArn`:
   * the env (the token to write to `tokenFile`), plus AWS_ENDPOINT_URL_STS so the SDK's STS client
   * — the one the web identity provider builds — reaches this STS (read from the environment by
   * the endpoint resolver of every SDK v3 client; the provider passes it no endpoint of its own,
   * and AWS_IGNORE_CONFIGURED_ENDPOINT_URLS would turn it off). The region variables are the
   * webhook's; a container's own AWS_REGION wins, as there.
   */
  async envFor(namespace: string, serviceAccount: string, roleArn: string, tokenFile: string): Promise<{ env: Record<string, string>; token: string }> {
    return {
      token: await this.signToken(namespace, serviceAccount),
      env: {
        AWS_ROLE_ARN: roleArn,
        AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
        AWS_STS_REGIONAL_ENDPOINTS: 'regional',
        AWS_DEFAULT_REGION: LOCAL_ENV.region,
        AWS_REGION: LOCAL_ENV.region,
        AWS_ENDPOINT_URL_STS: this.endpoint,
      },
    };
  }

  /**
   * AssumeRoleWithWebIdentity on the Query protocol's parameters: the response body, or STS's
   * refusal. The token is checked as STS checks it (issuer → signature → claims), then the trust.
   */
  async assumeRoleWithWebIdentity(params: URLSearchParams): Promise<{ ok: true; xml: string } | { ok: false; failure: STSFailure }> {
    const fail = (code: STSFailure['code'], message: string): { ok: false; failure: STSFailure } => ({ ok: false, failure: { code, status: code === 'AccessDenied' ? 403 : 400, message } });
    if (params.get('Action') !== 'AssumeRoleWithWebIdentity' || params.get('Version') !== '2011-06-15') {
      return fail('InvalidAction', `Could not find operation ${params.get('Action') ?? ''} for version ${params.get('Version') ?? ''}`);
    }
    const invalid = validationErrors(params);
    if (invalid.length) return fail('ValidationError', `${invalid.length} validation error${invalid.length > 1 ? 's' : ''} detected: ${invalid.join('; ')}`);
    const roleArn = params.get('RoleArn')!;
    const sessionName = params.get('RoleSessionName')!;
    const token = params.get('WebIdentityToken')!;
    const notValid = 'The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request.';

    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      return fail('InvalidIdentityToken', notValid);
    }
    if (iss !== this.issuerUrl) return fail('InvalidIdentityToken', `No OpenIDConnect provider found in your account for ${String(iss)}`);
    const at = this.now();
    let claims: { sub?: string; exp?: number };
    try {
      claims = (await jwtVerify(token, this.keys.publicKey, { algorithms: ['RS256'], issuer: this.issuerUrl, audience: STS_AUDIENCE, currentDate: new Date(at), requiredClaims: ['sub', 'exp'] })).payload;
    } catch (err) {
      if (err instanceof errors.JWTExpired) {
        const exp = (err.payload as { exp?: number }).exp;
        return fail('ExpiredTokenException', `Token expired: current date/time ${Math.floor(at / 1000)} must be before the expiration date/time ${exp}`);
      }
      if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'aud') return fail('InvalidIdentityToken', 'Incorrect token audience');
      return fail('InvalidIdentityToken', notValid);
    }
    const decision = await this.o.iam.authorizeWebIdentity(roleArn, { providerArn: this.providerArn, issuer: this.issuer, claims: { sub: claims.sub!, aud: STS_AUDIENCE }, sessionName });
    // AWS's words, whatever the reason (no such role, a trust naming another ServiceAccount or Pod Identity only).
    if (!decision.allowed) return fail('AccessDenied', `Not authorized to perform ${ACTION}`);

    const seconds = Number(params.get('DurationSeconds') ?? 3600);
    // The roles' MaxSessionDuration: the template sets none, and IAM's default is one hour.
    if (seconds > 3600) return fail('ValidationError', 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
    const credentials = this.o.iam.credentialsFor(roleArn);
    this.granted.push({ roleArn, subject: claims.sub! });
    const roleName = roleArn.slice(roleArn.lastIndexOf('/') + 1);
    const roleId = `AROA${createHash('sha256').update(roleArn).digest('hex').toUpperCase().slice(0, 17)}`;
    const xml = `<AssumeRoleWithWebIdentityResponse xmlns="${XMLNS}">
  <AssumeRoleWithWebIdentityResult>
    <Audience>${STS_AUDIENCE}</Audience>
    <AssumedRoleUser>
      <AssumedRoleId>${esc(`${roleId}:${sessionName}`)}</AssumedRoleId>
      <Arn>${esc(`arn:aws:sts::${LOCAL_ENV.account}:assumed-role/${roleName}/${sessionName}`)}</Arn>
    </AssumedRoleUser>
    <Provider>${esc(this.providerArn)}</Provider>
    <Credentials>
      <AccessKeyId>${esc(credentials.accessKeyId)}</AccessKeyId>
      <SecretAccessKey>${esc(credentials.secretAccessKey)}</SecretAccessKey>
      <SessionToken>${esc(credentials.sessionToken ?? '')}</SessionToken>
      <Expiration>${new Date(at + seconds * 1000).toISOString()}</Expiration>
    </Credentials>
    <SubjectFromWebIdentityToken>${esc(claims.sub!)}</SubjectFromWebIdentityToken>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>${randomUUID()}</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
`;
    return { ok: true, xml };
  }

  /** The Query protocol's transport: parameters from the query string and a form body (POST, as the SDK sends them). */
  private async answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const params = new URL(req.url ?? '/', 'http://sts').searchParams;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    for (const [k, v] of new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) params.set(k, v);
    const out = await this.assumeRoleWithWebIdentity(params).catch((err: Error) => ({ ok: false as const, failure: { code: 'InternalFailure', status: 500, message: err.message } satisfies STSFailure }));
    if (out.ok) {
      res.writeHead(200, { 'content-type': 'text/xml' }).end(out.xml);
      return;
    }
    const f = out.failure;
    const xml = `<ErrorResponse xmlns="${XMLNS}">
  <Error>
    <Type>${f.status >= 500 ? 'Receiver' : 'Sender'}</Type>
    <Code>${f.code}</Code>
    <Message>${esc(f.message)}</Message>
  </Error>
  <RequestId>${randomUUID()}</RequestId>
</ErrorResponse>
`;
    res.writeHead(f.status, { 'content-type': 'text/xml' }).end(xml);
  }
}

/** STS's own input checks (AWS's "Value … at '…' failed to satisfy constraint" wording). */
function validationErrors(params: URLSearchParams): string[] {
  const out: string[] = [];
  for (const [name, member] of [
    ['RoleArn', 'roleArn'],
    ['RoleSessionName', 'roleSessionName'],
    ['WebIdentityToken', 'webIdentityToken'],
  ] as const) {
    if (params.get(name) === null) out.push(`Value null at '${member}' failed to satisfy constraint: Member must not be null`);
  }
  const session = params.get('RoleSessionName');
  if (session !== null && !/^[\w+=,.@-]{2,64}$/.test(session)) {
    out.push(`Value '${session}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and length 2 to 64`);
  }
  const duration = params.get('DurationSeconds');
  if (duration !== null && !(Number(duration) >= 900)) out.push(`Value '${duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900`);
  return out;
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
