/**
 * aria2c 1.36 as a peer on 127.0.0.1 (see /work/shared/INTEROP-NOTES.md): it cannot be given a
 * peer address, only a tracker (or the DHT), so it learns peers from the torrent's tracker.
 *
 * Downloading (`seedTime: 0`) it exits when the download is complete, status 0 when every file
 * was downloaded and checked. Seeding (`seed: true`) it checks the data first (-V) and then seeds
 * until it is signalled (--seed-ratio=0.0 with no --seed-time: no limit).
 */
import { mkdir } from 'node:fs/promises';
import { type Child, LOOPBACK, startChild } from './common.js';

export interface Aria2Options {
  torrent: string;
  /** Save path (--dir): the content goes in `<dir>/<name>`. */
  dir: string;
  /** TCP listen port. */
  port: number;
  /** Seed existing data until stopped, instead of downloading and exiting. */
  seed?: boolean;
  /** Safety net: aria2 stops by itself after this many seconds (--stop). */
  maxSeconds?: number;
}

export async function startAria2(binary: string, o: Aria2Options): Promise<Child> {
  await mkdir(o.dir, { recursive: true });
  const args = [
    '--no-conf',
    '--enable-dht=false',
    '--enable-dht6=false',
    '--bt-enable-lpd=false',
    '--enable-peer-exchange=false',
    '--file-allocation=none',
    `--interface=${LOOPBACK}`,
    '--disable-ipv6=true',
    `--listen-port=${o.port}`,
    `--dir=${o.dir}`,
    '--auto-file-renaming=false',
    '--summary-interval=0',
    '--console-log-level=notice',
    '--enable-color=false',
    `--stop=${o.maxSeconds ?? 120}`,
  ];
  if (o.seed) args.push('--check-integrity=true', '--seed-ratio=0.0');
  else args.push('--seed-time=0');
  args.push(o.torrent);
  return startChild('aria2c', binary, args);
}
