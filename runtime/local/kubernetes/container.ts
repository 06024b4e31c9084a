import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * One container of a pod, run as a local process exactly as its manifest says: `command` + `args`
 * with Kubernetes' `$(VAR)` expansion from the container's env (plus what the kubelet and the Job
 * controller add), its volumes as directories. What cannot be the same on one machine is mapped,
 * and only that: a volume's mountPath becomes a directory of the pod's sandbox (in args that name
 * it too), the emptyDir at /tmp becomes TMPDIR, and the environment gains what reaches the local
 * services (the S3 endpoint, the Pod Identity agent). Only Node images run here.
 */

export interface ContainerSpec {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}

export interface VolumeSpec {
  name: string;
  configMap?: { name: string };
  emptyDir?: Record<string, unknown>;
}

/** Images this machine can stand in for: a stock Node image runs with the local `node`. */
export function runnableImage(image: string): boolean {
  return /(^|\/)node:\d+/.test(image);
}

/** Kubernetes' `$(VAR)` expansion: defined variables are replaced, `$$(VAR)` escapes, unknown ones stay as written. */
export function expandVars(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string | undefined) => (m === '$$' ? '$' : name !== undefined && name in env ? env[name]! : m));
}

export interface StartedContainer {
  process: ChildProcess;
  /** Resolves with the exit code (128 + n when killed by signal n, as the kubelet reports it). */
  exited: Promise<number>;
}

/** Where the stand-in keeps each pod's files, and the environment the pod gains to reach local services. */
export interface ContainerHost {
  sandbox: string;
  /** ConfigMap data by name (what a configMap volume mounts). */
  configMap(name: string): Record<string, string> | undefined;
  extraEnv: Record<string, string>;
  onLog(line: string): void;
}

export async function startContainer(c: ContainerSpec, volumes: VolumeSpec[], podEnv: Record<string, string>, host: ContainerHost): Promise<StartedContainer> {
  const mounts = new Map<string, string>();
  for (const m of c.volumeMounts ?? []) {
    const v = volumes.find((x) => x.name === m.name);
    const dir = join(host.sandbox, 'volumes', m.name);
    await mkdir(dir, { recursive: true });
    if (v?.configMap) {
      const data = host.configMap(v.configMap.name) ?? {};
      for (const [file, text] of Object.entries(data)) await writeFile(join(dir, file), text);
    }
    mounts.set(m.mountPath.replace(/\/+$/, ''), dir);
  }
  const env: Record<string, string> = { ...podEnv };
  for (const e of c.env ?? []) {
    if (e.valueFrom) {
      // No Secrets exist here: an optional reference leaves the variable unset, as the kubelet does
      // for a missing Secret; a required one would keep the pod from starting (a manifest bug here).
      if (e.valueFrom.secretKeyRef?.optional) continue;
      throw new Error(`env ${e.name}: valueFrom ${JSON.stringify(e.valueFrom)} cannot be resolved by the local cluster (no Secrets; only optional references are supported)`);
    }
    env[e.name] = expandVars(e.value ?? '', env);
  }
  const mapPath = (arg: string): string => {
    for (const [mountPath, dir] of mounts) if (arg === mountPath || arg.startsWith(`${mountPath}/`)) return dir + arg.slice(mountPath.length);
    return arg;
  };
  const argv = [...(c.command ?? []), ...(c.args ?? [])].map((a) => mapPath(expandVars(a, env)));
  if (argv[0] !== 'node') throw new Error(`container ${c.name}: the local stand-in runs only \`node\` commands, not ${argv[0]}`);
  const tmp = mounts.get('/tmp');
  const child = spawn(process.execPath, argv.slice(1), {
    cwd: host.sandbox,
    env: { PATH: process.env.PATH ?? '', HOME: host.sandbox, ...(tmp ? { TMPDIR: tmp } : {}), ...env, ...host.extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout!, child.stderr!]) {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) host.onLog(l);
    });
    stream.on('end', () => rest && host.onLog(rest));
  }
  const exited = new Promise<number>((resolve) => {
    child.on('close', (code, signal) => resolve(code ?? 128 + (signal ? signalNumber(signal) : 1)));
    child.on('error', () => resolve(127));
  });
  return { process: child, exited };
}

function signalNumber(signal: NodeJS.Signals): number {
  return ({ SIGTERM: 15, SIGKILL: 9, SIGINT: 2 } as Record<string, number>)[signal] ?? 1;
}

/** The kubelet's FallbackToLogsOnError message: the log's tail, at most 80 lines or 2048 bytes. */
export function terminationMessage(lines: readonly string[]): string {
  let text = lines.slice(-80).join('\n');
  while (Buffer.byteLength(text) > 2048) {
    const nl = text.indexOf('\n');
    text = nl >= 0 ? text.slice(nl + 1) : text.slice(-2048);
  }
  return text;
}
