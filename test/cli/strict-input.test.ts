import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../runtime/simulator/index.ts';
import { cli, EXIT } from '../support/cli.ts';
import { useTempDirs } from '../support/temp-dir.ts';

/**
 * Inputs a new user types that used to be taken for something else (a hex number, a month 13, an
 * empty --out) or to fail late: each is now one message naming the input, the problem and the fix,
 * exit 2, and nothing half-created. Each test names the input it tries.
 */

const tempDir = useTempDirs();
let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ models: ['served-model'], ttftMs: 1, itlMs: 1, jitterMs: 0 });
});
afterAll(() => sim.close());

/** `run` against the simulator, ten requests (the fewest a valid run plans), one worker. */
const run = (...args: string[]) => cli(['run', '--target', sim.url, '--model', 'served-model', '--rate', '10', '--duration', '1', '--workers', '1', ...args]);

async function refused(r: { code: number; stderr: string }, message: RegExp): Promise<void> {
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.code).toBe(EXIT.usage);
}

describe('numbers are read as a person writes them', () => {
  it.each(['0x10', '1e3', 'Infinity', ' '])('--duration %j is refused, not read as another number', async (value) => {
    const out = await tempDir();
    await refused(await run('--duration', value, '--out', out), /--duration <seconds>' argument .* is invalid\. must be a positive number \(seconds\)/);
    expect(await readdir(out)).toEqual([]);
  });

  it('--window 0x7 is refused (the same parser for every numeric flag)', async () => {
    await refused(await cli(['compare', await tempDir(), '--window', '0x7']), /--window <n>' argument '0x7' is invalid\. must be a whole number from 3 to 60/);
  });
});

describe('names and places', () => {
  it('--run-id 20251301T020000Z-abcd (month 13) is not a run id', async () => {
    await refused(await run('--run-id', '20251301T020000Z-abcd', '--out', await tempDir()), /--run-id: "20251301T020000Z-abcd" is not a valid run id\nFix: use UTC time/);
  });

  it('--out "" would write into the current directory: refused', async () => {
    await refused(await run('--out', ''), /--out <dir>' argument '' is invalid\. must not be empty/);
  });

  it('--out s3:// (no bucket): refused naming the bucket, not a mangled prefix', async () => {
    await refused(await run('--out', 's3://'), /--out <dir>' argument 's3:\/\/' is invalid\. must name a bucket: s3:\/\/<bucket>\[\/prefix\]/);
  });

  it('--out <an existing run\'s directory>: refused, the new run is not nested inside it', async () => {
    const out = await tempDir();
    const old = join(out, '20250101T020000Z-old001');
    await mkdir(old);
    await writeFile(join(old, 'run.json'), '{}');
    await refused(await run('--out', old), new RegExp(`--out ${old}: is a run's directory \\(it holds run\\.json\\); --out is the directory runs go under, as <out>/<runId>/\\nFix: pass its parent \\(${out}\\)`));
    expect(await readdir(old)).toEqual(['run.json']);
  });

  it('--name ../evil would file the run outside its series: refused', async () => {
    await refused(await run('--name', '../evil', '--out', await tempDir()), /--name <scenario>' argument '\.\.\/evil' is invalid\. must be 1–63 letters, digits/);
  });

  it('--model "" names --model (not "simulator options")', async () => {
    await refused(await cli(['run', '--model', '', '--out', await tempDir()]), /--model <name>' argument '' is invalid\. must not be empty \(a model name\)/);
  });

  it('--scenario baseline with --config: the preset would be ignored, so one of them', async () => {
    const config = join(await tempDir(), 'c.yml');
    await writeFile(config, `load:\n  stages: [{ rate: 10, duration: 1 }]\nserver:\n  base_url: ${sim.url}\n`);
    await refused(await cli(['run', '--scenario', 'baseline', '--config', config]), /--scenario with --config: --config .* replaces the preset, so --scenario baseline would be ignored\nFix: pass one of them/);
  });

  it('--s3-endpoint notaurl: refused before any S3 call', async () => {
    await refused(await run('--out', 's3://results/runs', '--s3-endpoint', 'notaurl'), /--s3-endpoint <url>' argument 'notaurl' is invalid\. must be the http\(s\) URL of an S3-compatible server/);
  });
});

describe('aggregate --emf and --namespace', () => {
  let runDir: string;
  beforeAll(async () => {
    const out = await tempDir();
    const r = await run('--out', out, '--run-id', '20250101T020000Z-emf001');
    expect([EXIT.ok, EXIT.invalid]).toContain(r.code);
    runDir = join(out, '20250101T020000Z-emf001');
  });

  it('--emf <an unrelated file>: not appended to, said before aggregating', async () => {
    const notes = join(await tempDir(), 'notes.txt');
    await writeFile(notes, 'my notes\n');
    await refused(await cli(['aggregate', runDir, '--no-history', '--emf', notes]), /--emf .*notes\.txt: exists and does not hold EMF lines/);
    expect(await readFile(notes, 'utf8')).toBe('my notes\n');
  });

  it('--emf <a file of earlier EMF lines>: one more line is appended', async () => {
    const emf = join(await tempDir(), 'runs.emf.ndjson');
    expect((await cli(['aggregate', runDir, '--no-history', '--emf', emf])).code).not.toBe(EXIT.usage);
    expect((await cli(['aggregate', runDir, '--no-history', '--emf', emf])).code).not.toBe(EXIT.usage);
    const lines = (await readFile(emf, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(JSON.parse(l)).toHaveProperty('_aws');
  });

  it('--emf <a path that cannot be written>: one message, not a stack trace', async () => {
    await refused(await cli(['aggregate', runDir, '--no-history', '--emf', '/proc/sys/run.emf']), /--emf \/proc\/sys\/run\.emf: cannot be created: \/proc\/sys does not exist or is not writable/);
  });

  it.each(['AWS/Mine', ':ns', '  ', 'tab\tns'])('--namespace %j is not a CloudWatch namespace', async (ns) => {
    await refused(await cli(['aggregate', runDir, '--emf', join(await tempDir(), 'x.emf'), '--namespace', ns]), /--namespace <ns>' argument .* is invalid\. must be a CloudWatch namespace: 1–255 letters, digits, spaces and \. - _ \/ # :/);
  });
});

describe('help', () => {
  it('the bare command prints the help (not "(outputHelp)"), exit 2', async () => {
    const r = await cli([]);
    expect(r.stderr).toMatch(/^Usage: inference-baseline \[options\] \[command\]/);
    expect(r.stderr).not.toContain('(outputHelp)');
    expect(r.code).toBe(EXIT.usage);
  });

  it('help nosuch names the unknown command, then the help', async () => {
    const r = await cli(['help', 'nosuch']);
    expect(r.stderr).toMatch(/^error: unknown command 'nosuch'\n\nUsage: inference-baseline/);
    expect(r.code).toBe(EXIT.usage);
  });

  it('help run prints run\'s help, exit 0', async () => {
    const r = await cli(['help', 'run']);
    expect(r.stdout).toMatch(/^Usage: inference-baseline run \[options\]/);
    expect(r.code).toBe(EXIT.ok);
  });
});
