/**
 * `seedbank tracker`: runs an HTTP and UDP tracker on one port number until SIGINT or SIGTERM.
 *
 * Prints one line with the announce URLs (JSON with --json) so a script can read them, then waits.
 * Listens on every interface by default: a tracker must be reachable by its peers.
 */
import os from 'node:os';
import { UsageError } from '../errors.js';
import { type TrackerServer, startTrackerServer } from '../discovery/tracker-server.js';

export const DEFAULT_TRACKER_PORT = 6969;

export interface TrackerFlags {
  /** @default '6969'; '0' picks a free port */
  port?: string;
  /** @default '::' (every interface, IPv4 too), or '0.0.0.0' without IPv6 */
  host?: string;
  json?: boolean;
}

function parsePort(s: string): number {
  if (!/^\d{1,5}$/.test(s.trim()) || Number(s) > 65535) throw new UsageError(`--port ${JSON.stringify(s)} is not a port number (0-65535)`);
  return Number(s);
}

/** The host part of a URL others can use: this machine's name for "every interface". */
function urlHost(host: string): string {
  if (host === '::' || host === '0.0.0.0') return os.hostname();
  return host.includes(':') ? `[${host}]` : host;
}

export async function runTracker(flags: TrackerFlags): Promise<number> {
  const port = parsePort(flags.port ?? String(DEFAULT_TRACKER_PORT));
  // Listen for signals before anything is printed: a script that reads the line and signals at
  // once must find the handler in place, not Node's default (die without closing).
  let requestStop = () => {};
  const stopRequested = new Promise<void>((resolve) => (requestStop = resolve));
  const onSignal = () => requestStop();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const server = await listen(port, flags.host);
    const h = urlHost(server.host);
    const http = `http://${h}:${server.httpPort}/announce`;
    const udp = `udp://${h}:${server.udpPort}/announce`;
    if (flags.json) process.stdout.write(`${JSON.stringify({ http, udp, host: server.host, port: server.httpPort })}\n`);
    else process.stdout.write(`tracker listening on ${server.host} port ${server.httpPort}: ${http} ${udp} (Ctrl-C to stop)\n`);
    await stopRequested;
    await server.close();
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function listen(port: number, host: string | undefined): Promise<TrackerServer> {
  try {
    return await startTrackerServer({ httpPort: port, udpPort: 'same', host });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UsageError(`port ${port} is already in use (TCP or UDP): choose another with --port`);
    if (code === 'EACCES') throw new UsageError(`no permission to listen on port ${port}: choose one above 1023 with --port`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAFNOSUPPORT' || code === 'EINVAL') {
      throw new UsageError(`cannot listen on --host ${JSON.stringify(host ?? '::')}: not an address of this machine`);
    }
    throw e;
  }
}
