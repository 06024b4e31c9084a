import { readdir } from 'node:fs/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { getObjectText, listObjects } from '../../runtime/aws/s3.ts';
import { startSimulator, type RunningSimulator } from '../../runtime/simulator/index.ts';
import { cli } from '../support/cli.ts';
import { startLocalS3, type LocalS3 } from '../support/s3rver.ts';
import { useTempDirs } from '../support/temp-dir.ts';

const tempDir = useTempDirs();

/**
 * `run --out s3://…` against the project's strict local S3, with writes under `denied/` refused as
 * an IAM policy would refuse them (403 AccessDenied), and summary.json refused under `late/` so the
 * final upload fails after the run was measured.
 */
let sim: RunningSimulator;
let s3: LocalS3;
let staging: string;
beforeAll(async () => {
  sim = await startSimulator({ ttftMs: 1, itlMs: 1, jitterMs: 0 });
  s3 = await startLocalS3('results', { denyWrite: (k) => k.startsWith('results/denied/') || (k.startsWith('results/late/') && k.endsWith('/summary.json')) });
});
afterAll(async () => {
  await sim.close();
  await s3.stop();
});
beforeEach(async () => {
  staging = await tempDir();
  vi.stubEnv('TMPDIR', staging);
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'S3RVER');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'S3RVER');
  vi.stubEnv('AWS_REGION', 'us-east-1');
  return () => vi.unstubAllEnvs();
});

const run = (out: string, runId: string, ...extra: string[]) =>
  cli(['run', '--target', sim.url, '--duration', '1', '--rate', '10', '--workers', '1', '--run-id', runId, '--out', out, '--s3-endpoint', s3.endpoint, ...extra]);

async function keys(prefix: string): Promise<string[]> {
  const found: string[] = [];
  for await (const o of listObjects(s3.client, 'results', prefix)) found.push(o.key.slice(prefix.length));
  return found.sort();
}

const statusLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('{"status"')).map((l) => JSON.parse(l) as { sent: number });

describe('run --out s3://: the destination is checked before anything is measured', () => {
  it('a bucket that does not exist: one message, exit 2, nothing measured or staged', async () => {
    const r = await run('s3://no-such-bucket/runs', '20250101T020000Z-nobckt');
    expect(r.stderr).toMatch(/^error: s3:\/\/no-such-bucket\/runs\/20250101T020000Z-nobckt\/: the bucket does not exist[^\n]*\nFix: check the bucket name/);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('calibrated');
    expect(await readdir(staging)).toEqual([]);
  });

  it('a run id whose files are already there is refused, and the earlier files are untouched', async () => {
    const runId = '20250101T020000Z-taken1';
    await s3.client.send(new PutObjectCommand({ Bucket: 'results', Key: `runs/x/${runId}/run.json`, Body: '{"earlier":true}' }));
    const r = await run('s3://results/runs/x', runId);
    expect(r.stderr).toMatch(/already holds this run's files \(run\.json\)[\s\S]*Fix: raw results are never overwritten: run again with another --run-id/);
    expect(r.code).toBe(2);
    expect(statusLines(r.stderr)).toEqual([]);
    expect(await keys(`runs/x/${runId}/`)).toEqual(['run.json']);
    expect(await getObjectText(s3.client, 'results', `runs/x/${runId}/run.json`)).toBe('{"earlier":true}');
    expect(await readdir(staging)).toEqual([]);
  });

  it('a bucket that refuses writes stops the run before its first request (config.yml and run.json go first)', async () => {
    const r = await run('s3://results/denied', '20250101T020000Z-denied');
    expect(r.stderr).toMatch(/error: s3:\/\/results\/denied\/20250101T020000Z-denied\/: access denied \(AccessDenied\)\nFix: use credentials allowed to read and write this bucket/);
    expect(r.code).toBe(2);
    // No request was sent under load: no status line counts one, no part file exists anywhere.
    expect(statusLines(r.stderr).every((s) => s.sent === 0)).toBe(true);
    expect(await keys('denied/')).toEqual([]);
    expect(await readdir(staging)).toEqual([]);
  });

  it('an upload that fails after the run was measured keeps the local copy and names it (exit 1, no stack)', async () => {
    const runId = '20250101T020000Z-late01';
    const r = await run('s3://results/late', runId);
    expect(r.code).toBe(1);
    const kept = /The results are kept in (\S+); once the cause is fixed, upload them with: aws s3 cp --recursive (\S+) (\S+)/.exec(r.stderr);
    expect(r.stderr).toMatch(/^error: the run was measured but its upload to s3:\/\/results\/late\/20250101T020000Z-late01\/ failed: .*access denied/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(kept).not.toBeNull();
    const dir = kept![1]!;
    expect(dir.startsWith(staging)).toBe(true);
    // Everything the run wrote is in the kept copy, and its raw files reached S3 during the run.
    expect((await readdir(dir)).sort()).toEqual(['config.yml', 'histograms.json', 'report.html', 'requests', 'run.json', 'server-metrics.ndjson', 'summary.json']);
    expect(await keys(`late/${runId}/`)).toEqual(expect.arrayContaining(['config.yml', 'run.json', 'requests/shard-0000-0000.ndjson.gz', 'requests/shard-0000.json', 'server-metrics.ndjson']));
    expect(await keys(`late/${runId}/`)).not.toContain('summary.json');
  });

  describe('S3 that cannot be used at all, said in words (no AWS call leaves this machine)', () => {
    beforeEach(() => {
      // The SDK's credential chain must not look further than this machine: no profile files, no IMDS.
      vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
      vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/aws-config');
      vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/aws-credentials');
      vi.stubEnv('AWS_PROFILE', undefined);
      vi.stubEnv('AWS_DEFAULT_REGION', undefined);
    });

    it('no region', async () => {
      vi.stubEnv('AWS_REGION', undefined);
      const r = await run('s3://results/runs', '20250101T020000Z-noregn');
      expect(r.stderr).toMatch(/: no AWS region is set\nFix: set AWS_REGION/);
      expect(r.code).toBe(2);
    });

    it('no credentials', async () => {
      vi.stubEnv('AWS_ACCESS_KEY_ID', undefined);
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', undefined);
      const r = await run('s3://results/runs', '20250101T020000Z-nocred');
      expect(r.stderr).toMatch(/: no AWS credentials were found \(environment, profile, SSO, container or instance role\)\nFix: set AWS_PROFILE/);
      expect(r.code).toBe(2);
    });

    it('an endpoint nothing listens on', async () => {
      const r = await cli(['run', '--target', sim.url, '--duration', '1', '--workers', '1', '--out', 's3://results/runs', '--s3-endpoint', 'http://127.0.0.1:9']);
      expect(r.stderr).toMatch(/: cannot reach the S3 endpoint http:\/\/127\.0\.0\.1:9: ECONNREFUSED\nFix: check --s3-endpoint/);
      expect(r.code).toBe(2);
      expect(await readdir(staging)).toEqual([]);
    });
  });
});
