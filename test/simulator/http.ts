import type { RunningSimulator } from '../../runtime/simulator/index.ts';

/** POSTs a JSON body to the simulator over real loopback HTTP. */
export function post(sim: RunningSimulator, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${sim.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}
