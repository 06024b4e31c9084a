import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { LOCAL_ENV } from '../../core/ports/local-stack.ts';
import { closeServer, listenOnLoopback } from '../loopback-server.ts';

/**
 * The EKS Pod Identity agent, locally: pods whose ServiceAccount has an association get the two
 * variables the Pod Identity webhook injects (`AWS_CONTAINER_CREDENTIALS_FULL_URI`,
 * `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`), and the agent answers their token with the
 * association's credentials — the SDK's default chain finds them exactly as in EKS. A pod whose
 * ServiceAccount has no association gets nothing, and its AWS calls fail as they would there.
 */
export interface Association {
  namespace: string;
  serviceAccount: string;
  /** The role the association gives the ServiceAccount (what DescribePodIdentityAssociation answers). */
  roleArn: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export class PodIdentityAgent {
  private readonly server = http.createServer((req, res) => this.answer(req, res));
  private readonly tokens = new Map<string, Association>();
  private port = 0;

  constructor(private readonly associations: readonly Association[]) {}

  async start(): Promise<void> {
    this.port = await listenOnLoopback(this.server);
  }

  stop(): Promise<void> {
    return closeServer(this.server);
  }

  /** The role associated with the ServiceAccount, or null when it has no association. */
  roleOf(namespace: string, serviceAccount: string): string | null {
    return this.associations.find((x) => x.namespace === namespace && x.serviceAccount === serviceAccount)?.roleArn ?? null;
  }

  /** The env a pod of this ServiceAccount gets, with its token (to write to `tokenFile`); null without an association. */
  envFor(namespace: string, serviceAccount: string, tokenFile: string): { env: Record<string, string>; token: string } | null {
    const a = this.associations.find((x) => x.namespace === namespace && x.serviceAccount === serviceAccount);
    if (!a) return null;
    const token = randomBytes(24).toString('hex');
    this.tokens.set(token, a);
    return {
      token,
      env: { AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${this.port}/v1/credentials`, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile },
    };
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    const a = this.tokens.get(String(req.headers.authorization ?? ''));
    if (req.url !== '/v1/credentials' || !a) {
      res.writeHead(a ? 404 : 401, { 'content-type': 'application/json' }).end(JSON.stringify({ message: a ? 'not found' : 'invalid token' }));
      return;
    }
    const body = {
      AccessKeyId: a.credentials.accessKeyId,
      SecretAccessKey: a.credentials.secretAccessKey,
      Token: a.credentials.sessionToken ?? 'local-pod-identity-session',
      AccountId: LOCAL_ENV.account,
      Expiration: new Date(Date.now() + 3_600_000).toISOString(),
    };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }
}
