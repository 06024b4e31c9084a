import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cli, EXIT } from '../support/cli.ts';

/**
 * AWS set up wrong on the user's machine — no region, an endpoint that does not answer, an ARN
 * mistyped — is the user's to fix: one message naming it and the fix, exit 2, never "internal
 * error". No call leaves this machine: endpoints point at a closed loopback port, and credentials
 * are fake environment values (no profile, no instance metadata lookup).
 */

const CLOSED = 'http://127.0.0.1:9';

beforeEach(() => {
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDTEST');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
  vi.stubEnv('AWS_CONFIG_FILE', '/dev/null');
  vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/dev/null');
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  vi.stubEnv('AWS_MAX_ATTEMPTS', '1');
});
afterEach(() => vi.unstubAllEnvs());

function noStack(r: { code: number; stderr: string }): void {
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  expect(r.code).toBe(EXIT.usage);
}

describe('start', () => {
  it('without a region (none in the environment or a profile): says to set AWS_REGION', async () => {
    vi.stubEnv('AWS_REGION', undefined);
    vi.stubEnv('AWS_DEFAULT_REGION', undefined);
    const r = await cli(['start']);
    expect(r.stderr).toMatch(/^error: --stack InferenceBaseline: no AWS region is set\nFix: set AWS_REGION/);
    noStack(r);
  });

  it('with Step Functions unreachable (AWS_ENDPOINT_URL_SFN at a closed port): says it cannot reach it', async () => {
    vi.stubEnv('AWS_REGION', 'us-west-2');
    vi.stubEnv('AWS_ENDPOINT_URL_SFN', CLOSED);
    const r = await cli(['start']);
    expect(r.stderr).toMatch(/^error: --stack InferenceBaseline: cannot reach Step Functions: ECONNREFUSED\nFix: check the network route to AWS/);
    noStack(r);
  });

  it('with AWS_REGION set to something that is not a region: names it', async () => {
    vi.stubEnv('AWS_REGION', 'us west 2');
    const r = await cli(['start']);
    expect(r.stderr).toMatch(/^error: --stack InferenceBaseline: the AWS region "us west 2" is not a region name\nFix: set AWS_REGION to a region such as us-west-2/);
    noStack(r);
  });

  it.each(['my-state-machine', 'arn:aws:states:us-west-2:123:stateMachine:x', 'arn:aws:lambda:us-west-2:123456789012:function:x'])(
    '--state-machine %s is checked on this machine, before any call',
    async (arn) => {
      vi.stubEnv('AWS_REGION', 'us-west-2');
      vi.stubEnv('AWS_ENDPOINT_URL_SFN', CLOSED);
      const r = await cli(['start', '--state-machine', arn]);
      expect(r.stderr).toContain(`option '--state-machine <arn>' argument '${arn}' is invalid. must be a state machine ARN, arn:aws:states:<region>:<account>:stateMachine:<name>`);
      noStack(r);
    },
  );

  it('a well-formed --state-machine ARN is called in its own region, and an unreachable endpoint is said as such', async () => {
    vi.stubEnv('AWS_REGION', undefined);
    vi.stubEnv('AWS_DEFAULT_REGION', undefined);
    vi.stubEnv('AWS_ENDPOINT_URL_SFN', CLOSED);
    const r = await cli(['start', '--state-machine', 'arn:aws:states:eu-west-1:123456789012:stateMachine:Baseline-Benchmark']);
    // No region in the environment, yet no "region is missing": the ARN's region was used.
    expect(r.stderr).toMatch(/^error: --state-machine arn:aws:states:eu-west-1:123456789012:stateMachine:Baseline-Benchmark: cannot reach Step Functions: ECONNREFUSED/);
    noStack(r);
  });
});

describe('history s3://…', () => {
  it('with the S3 endpoint down: one message, as aggregate and compare say it', async () => {
    vi.stubEnv('AWS_REGION', 'us-west-2');
    const r = await cli(['history', 's3://results', '--endpoint', CLOSED]);
    expect(r.stderr).toMatch(/^error: s3:\/\/results\/history\/: cannot reach the S3 endpoint http:\/\/127\.0\.0\.1:9: ECONNREFUSED\nFix: check --s3-endpoint \/ --endpoint/);
    noStack(r);
  });

  it('--endpoint notaurl is refused before any call', async () => {
    const r = await cli(['history', 's3://results', '--endpoint', 'notaurl']);
    expect(r.stderr).toContain("option '--endpoint <url>' argument 'notaurl' is invalid. must be the http(s) URL of an S3-compatible server");
    noStack(r);
  });
});
