import { Client, Pool, type Dispatcher } from 'undici';

/**
 * The connections to a server's base URL. undici dispatches to an origin; a base URL with a path
 * (a server behind an ingress at `http://gateway/qwen`) gets that path put before every request's
 * (`/v1/completions` → `/qwen/v1/completions`), so the runner's paths stay the API's own.
 */
export interface ServerConnections {
  dispatcher: Dispatcher;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

export function serverConnections(baseUrl: string, o: { pool?: Pool.Options; single?: boolean } = {}): ServerConnections {
  const url = new URL(baseUrl);
  const base: Pool | Client = o.single ? new Client(url.origin, o.pool) : new Pool(url.origin, o.pool);
  const prefix = url.pathname.replace(/\/+$/, '');
  const dispatcher = prefix === '' ? base : base.compose((dispatch) => (opts, handler) => dispatch({ ...opts, path: `${prefix}${opts.path}` }, handler));
  return { dispatcher, close: () => base.close(), destroy: () => base.destroy() };
}
