import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../runtime/core/errors.ts';
import { openGroundTruthFile } from '../../runtime/simulator/ground-truth.ts';
import { startSimulator } from '../../runtime/simulator/index.ts';
import { listenError } from '../../runtime/simulator/server.ts';
import { cli } from '../support/cli.ts';
import { useTempDirs } from '../support/temp-dir.ts';

/**
 * `simulate` with an address it cannot listen on, or a ground-truth file it cannot write: one
 * message naming the flag, the problem and the fix, exit 2 — never a stack trace, and nothing served.
 */
const tempDir = useTempDirs();
const hostFix = 'Fix: pass an address of this machine: 127.0.0.1 (this machine only, the default), 0.0.0.0 (every interface), or one of its own interface addresses.\n';
const fileFix = 'Fix: pass a file in a folder this user can write (missing folders are created), or leave --ground-truth out.\n';

describe('simulate refuses an address it cannot listen on', () => {
  it('--host 256.1.1.1 (not an IP address, and no name resolves to it)', async () => {
    const r = await cli(['simulate', '--host', '256.1.1.1', '--port', '0']);

    expect(r.stderr).toBe(`error: --host 256.1.1.1: "256.1.1.1" is neither an IP address nor a name this machine can resolve (ENOTFOUND)\n${hostFix}`);
    expect(r.code).toBe(2);
  });

  it('--host 192.0.2.1 (a documentation address, RFC 5737: never one of this machine\'s)', async () => {
    const r = await cli(['simulate', '--host', '192.0.2.1', '--port', '0']);

    expect(r.stderr).toBe(`error: --host 192.0.2.1: 192.0.2.1 is not an address this machine can listen on (EADDRNOTAVAIL)\n${hostFix}`);
    expect(r.code).toBe(2);
  });

  it('a port another simulator holds: the same refusal from startSimulator, for every caller', async () => {
    const first = await startSimulator({ port: 0 });
    try {
      const err = await startSimulator({ port: first.port }).catch((e: unknown) => e);

      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toBe(`--host 127.0.0.1 --port ${first.port}: 127.0.0.1:${first.port} is already in use (EADDRINUSE)\nFix: choose another --port (0 picks a free one) or stop what is listening there.`);
    } finally {
      await first.close();
    }
  });

  it('a low port without the privilege (EACCES, as an unprivileged user meets it on --port 80)', () => {
    const denied = Object.assign(new Error('listen EACCES: permission denied 127.0.0.1:80'), { code: 'EACCES', syscall: 'listen' });

    expect(listenError(denied, '127.0.0.1', 80)?.message).toBe(
      '--port 80: this process may not listen on 127.0.0.1:80 (EACCES: ports below 1024 need root or CAP_NET_BIND_SERVICE)\nFix: choose a --port of 1024 or above (0 picks a free one).',
    );
    expect(listenError(new Error('not about the address'), '127.0.0.1', 80)).toBeUndefined();
  });
});

describe('simulate refuses a --ground-truth file it cannot write, before serving', () => {
  it('--ground-truth <a directory>', async () => {
    const dir = await tempDir();
    const r = await cli(['simulate', '--port', '0', '--ground-truth', dir]);

    expect(r.stderr).toBe(`error: --ground-truth ${dir}: cannot be written: it is a directory (EISDIR)\n${fileFix}`);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe(''); // never said it was listening
  });

  it('--ground-truth <file>/truth.ndjson (a folder of the path is a file)', async () => {
    const file = join(await tempDir(), 'file');
    await writeFile(file, 'not a folder\n');
    const r = await cli(['simulate', '--port', '0', '--ground-truth', join(file, 'truth.ndjson')]);

    expect(r.stderr).toBe(`error: --ground-truth ${join(file, 'truth.ndjson')}: cannot be written: ${file} is a file, not a folder (EEXIST)\n${fileFix}`);
    expect(r.code).toBe(2);
  });

  it('--ground-truth <file>/deeper/truth.ndjson (the file is further up)', async () => {
    const file = join(await tempDir(), 'file');
    await writeFile(file, '');

    expect(() => openGroundTruthFile(join(file, 'deeper', 'truth.ndjson'))).toThrow(`cannot be written: ${file} is a file, not a folder (ENOTDIR)`);
    expect(await readFile(file, 'utf8')).toBe('');
  });

  it.skipIf(process.getuid?.() === 0)('--ground-truth <read-only folder>/truth.ndjson (root may write anywhere: skipped as root)', async () => {
    const dir = join(await tempDir(), 'read-only');
    await mkdir(dir);
    await chmod(dir, 0o555);
    try {
      expect(() => openGroundTruthFile(join(dir, 'truth.ndjson'))).toThrow(/^--ground-truth .*truth\.ndjson: cannot be written: permission denied \(EACCES\)\nFix:/);
    } finally {
      await chmod(dir, 0o755);
    }
  });

  it('--ground-truth <missing folders>/truth.ndjson is not refused: the folders are created', async () => {
    const file = join(await tempDir(), 'a', 'b', 'truth.ndjson');
    const sim = await startSimulator({ groundTruthFile: file });
    await sim.close();

    expect(await readFile(file, 'utf8')).toBe('');
  });
});

describe('simulate refuses a dialect or tokenizer it cannot use', () => {
  it('--dialect vlm: one message naming the flag, the value and the choices, exit 2', async () => {
    const r = await cli(['simulate', '--dialect', 'vlm', '--port', '0']);

    expect(r.stderr).toContain('--dialect');
    expect(r.stderr).toContain('must be one of vllm, sglang, tgi, trtllm, llamacpp, ollama');
    expect(r.stderr).toContain('"vlm"');
    expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
    expect(r.code).toBe(2);
  });

  it('--tokenizer with a file that is not there: one message naming it and the fix, exit 2', async () => {
    const missing = join(await tempDir(), 'tokenizer.json');

    const r = await cli(['simulate', '--tokenizer', missing, '--port', '0']);

    expect(r.stderr).toBe(
      `error: tokenizer ${missing}: is neither "words", "qwen3" nor an existing file\nFix: pass words, qwen3, or the path of a Hugging Face tokenizer.json (tokenizer_config.json beside it is read too).\n`,
    );
    expect(r.code).toBe(2);
  });
});
