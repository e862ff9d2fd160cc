/**
 * transmission-cli 3.00 as a peer on 127.0.0.1 (see /work/shared/INTEROP-NOTES.md):
 * - DHT, LPD, PEX and uTP can only be switched off in `settings.json` in its config folder (-g);
 *   `rename-partial-files` off, or files are written as `.part` until complete.
 * - It never dials peers that a tracker lists on 127.x; it accepts incoming connections. So a
 *   seedbank that wants to talk to it learns its address from the tracker and dials it.
 * - It does not create zero-length files (3.00), and changes interest and unchoking on a 10 s
 *   timer (~14 s to first data).
 * - It keeps running (seeding) after a download completes, until it is signalled.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Child, startChild } from './common.js';

export interface TransmissionOptions {
  /** Its config folder (-g): created, with settings.json. */
  configDir: string;
  /** Save path (-w): the content goes in `<downloadDir>/<name>`. */
  downloadDir: string;
  torrent: string;
  /** Peer port (TCP and UDP free). */
  port: number;
  /** Check the data at start (-v): for seeding from existing files. */
  verify?: boolean;
}

export function transmissionSettings(port: number): Record<string, unknown> {
  return {
    'dht-enabled': false,
    'lpd-enabled': false,
    'pex-enabled': false,
    'utp-enabled': false,
    'rename-partial-files': false,
    'incomplete-dir-enabled': false,
    'watch-dir-enabled': false,
    'rpc-enabled': false,
    'blocklist-enabled': false,
    'port-forwarding-enabled': false,
    'peer-port': port,
    'peer-port-random-on-start': false,
    'bind-address-ipv4': '127.0.0.1',
    'bind-address-ipv6': '::1',
    'ratio-limit-enabled': false,
    'idle-seeding-limit-enabled': false,
    'speed-limit-up-enabled': false,
    'speed-limit-down-enabled': false,
    // 2: informational (announces, verification, errors) on stderr, which we keep for failures.
    'message-level': 2,
  };
}

export async function startTransmission(binary: string, o: TransmissionOptions): Promise<Child> {
  await mkdir(o.configDir, { recursive: true });
  await mkdir(o.downloadDir, { recursive: true });
  await writeFile(path.join(o.configDir, 'settings.json'), JSON.stringify(transmissionSettings(o.port), null, 2));
  // -M: no port mapping; -B: no blocklist; -D/-U: no speed limits.
  const args = ['-g', o.configDir, '-w', o.downloadDir, '-p', String(o.port), '-M', '-B', '-D', '-U'];
  if (o.verify) args.push('-v');
  args.push(o.torrent);
  return startChild('transmission-cli', binary, args);
}
