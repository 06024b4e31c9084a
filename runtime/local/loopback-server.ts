import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The local cloud's servers (S3, the Pod Identity agent, STS, the Kubernetes API) listen on
 * loopback only, on a port the OS picks, and stop with their keep-alive connections closed — an
 * idle client connection would otherwise hold `close()` open.
 */
export async function listenOnLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

export async function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}
