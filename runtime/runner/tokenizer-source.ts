import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fetch } from 'undici';
import { InputError } from '../core/errors.ts';

/**
 * Where `tokenizer.pretrained_model_name_or_path` is fetched from when it is a Hugging Face model
 * id, as the CLI read it from the environment (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE: the variables
 * huggingface_hub honours, so a cluster without internet points them at a mirror).
 */
export interface HubAccess {
  /** Default https://huggingface.co. */
  endpoint: string;
  token: string | undefined;
  /** HF_HUB_OFFLINE=1: never fetch; only a local path will do. */
  offline: boolean;
}

export const DEFAULT_HUB: HubAccess = { endpoint: 'https://huggingface.co', token: undefined, offline: false };

/** The environment's hub settings (called by entry points only). */
export function hubFromEnv(env: Record<string, string | undefined>): HubAccess {
  const offline = ['1', 'true', 'yes', 'on'].includes((env.HF_HUB_OFFLINE ?? '').toLowerCase());
  return { endpoint: (env.HF_ENDPOINT || DEFAULT_HUB.endpoint).replace(/\/+$/, ''), token: env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || undefined, offline };
}

export interface TokenizerFiles {
  json: object;
  config: object;
  /** Where they came from, for the run's notes. */
  from: string;
}

const INPUT = 'tokenizer.pretrained_model_name_or_path';
const MODEL_ID = /^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/;

/**
 * tokenizer.json (+ tokenizer_config.json when there is one) from a local directory or file, or
 * from the hub for a model id. Every way it can fail is an InputError with the fix, raised before
 * anything is measured. `token` is the config's `tokenizer.token`, which wins over HF_TOKEN.
 */
/** How long a hub may take to send a tokenizer (Qwen3's is 11 MB). */
const FETCH_LIMIT_MS = 60_000;

export async function loadTokenizerFiles(source: string, hub: HubAccess, token: string | undefined, signal?: AbortSignal): Promise<TokenizerFiles> {
  const local = await stat(source).catch(() => null);
  if (local) return readLocal(source, local.isDirectory());
  if (source.startsWith('/') || source.startsWith('.') || !MODEL_ID.test(source)) {
    throw new InputError(INPUT, [`"${source}" is neither a file or directory here nor a Hugging Face model id`], 'give the path of a directory holding tokenizer.json (or of the file), or a model id such as Qwen/Qwen3-8B.');
  }
  const fix = `point ${INPUT} at a local directory holding the model's tokenizer.json, or set HF_ENDPOINT to a hub mirror this machine can reach (HF_TOKEN for gated models).`;
  if (hub.offline) throw new InputError(INPUT, [`"${source}" is a Hugging Face model id, and HF_HUB_OFFLINE is set, so its tokenizer cannot be fetched`], fix);
  const auth = token ?? hub.token;
  const url = (file: string): string => `${hub.endpoint}/${source}/resolve/main/${file}`;
  const fetchJson = async (file: string, required: boolean): Promise<object | null> => {
    let status: number;
    let text: string;
    try {
      // fetch follows the hub's redirects (to its CDN or a mirror's storage).
      // Ctrl-C stops the fetch at once, not after the limit.
      const limit = AbortSignal.timeout(FETCH_LIMIT_MS);
      const res = await fetch(url(file), { headers: auth ? { authorization: `Bearer ${auth}` } : {}, signal: signal ? AbortSignal.any([limit, signal]) : limit });
      status = res.status;
      text = await res.text();
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if ((err as { name?: string }).name === 'TimeoutError') {
        throw new InputError(INPUT, [`${url(file)} sent no tokenizer within ${FETCH_LIMIT_MS / 1000} s`], fix);
      }
      // undici's fetch says only "fetch failed"; the cause says why (ECONNREFUSED, ENOTFOUND, a timeout).
      const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
      const code = e.cause?.code ?? e.code;
      const why = e.cause?.message ?? e.message ?? String(err);
      throw new InputError(INPUT, [`cannot fetch ${url(file)}: ${code && !why.includes(code) ? `${code} ` : ''}${why}`], fix);
    }
    if (status === 404 && !required) return null;
    if (status === 401 || status === 403) {
      throw new InputError(
        INPUT,
        [`${url(file)} answered HTTP ${status}: ${auth ? `the token given (${token ? 'tokenizer.token' : 'HF_TOKEN'}) was refused` : 'the model is gated or private'}`],
        auth ? `check that the token is valid and has been granted access to ${source}, or point ${INPUT} at a local directory.` : 'set HF_TOKEN (or tokenizer.token) to a token with access to it, or point it at a local directory.',
      );
    }
    if (status !== 200) throw new InputError(INPUT, [`${url(file)} answered HTTP ${status}: ${text.slice(0, 120)}`], status === 404 ? `check the model id: it has no ${file} on ${hub.endpoint}.` : fix);
    try {
      return JSON.parse(text) as object;
    } catch {
      throw new InputError(INPUT, [`${url(file)} is not JSON (${text.slice(0, 80)})`], fix);
    }
  };
  const json = (await fetchJson('tokenizer.json', true))!;
  const config = (await fetchJson('tokenizer_config.json', false)) ?? {};
  return { json, config, from: `${source} (${hub.endpoint})` };
}

async function readLocal(source: string, isDir: boolean): Promise<TokenizerFiles> {
  const file = isDir ? join(source, 'tokenizer.json') : source;
  const configFile = join(isDir ? source : dirname(source), 'tokenizer_config.json');
  const read = async (path: string, required: boolean): Promise<object | null> => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (!required) return null;
      const code = (err as { code?: string }).code;
      throw new InputError(INPUT, [`cannot read ${path}${code ? ` (${code})` : ''}`], isDir ? 'the directory must hold the tokenizer.json of the served model (as Hugging Face models ship it).' : 'give the path of a readable tokenizer.json.');
    }
    try {
      return JSON.parse(text) as object;
    } catch {
      throw new InputError(INPUT, [`${path} is not JSON`], 'give the tokenizer.json of the served model (as Hugging Face models ship it).');
    }
  };
  const json = (await read(file, true))!;
  const config = (await read(configFile, false)) ?? {};
  return { json, config, from: file };
}
