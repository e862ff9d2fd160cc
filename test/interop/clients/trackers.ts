/**
 * The two trackers the client interop tests run through: opentracker (Debian package, the
 * reference C tracker) and `seedbank tracker`, both on 127.0.0.1 only, plus an HTTP scrape written
 * here from scratch (no seedbank code) to see who has announced.
 *
 * opentracker (see /work/shared/INTEROP-NOTES.md): Debian builds it in whitelist mode, so it gets
 * `-w` with the info hashes; it drops to `nobody`, so the list must be an absolute path readable by
 * everyone; it is never given `-u root` (it would exit).
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { CLI } from '../../helpers/procs.js';
import { type Child, GiveUp, LOOPBACK, freePort, startChild, waitUntil } from './common.js';

export type TrackerKind = 'opentracker' | 'seedbank';

export interface RunningTracker {
  kind: TrackerKind;
  /** HTTP announce URL on 127.0.0.1. */
  announceUrl: string;
  child: Child;
  stop(): Promise<void>;
}

export interface SwarmCounts {
  /** Seeders. */
  complete: number;
  /** Leechers. */
  incomplete: number;
}

/** One HTTP scrape of one info hash (40 hex digits); zeros when the tracker does not list it. */
export function scrapeCounts(announceUrl: string, infoHashHex: string, timeoutMs = 2000): Promise<SwarmCounts> {
  const url = new URL(announceUrl.replace(/\/announce$/, '/scrape'));
  const escaped = [...Buffer.from(infoHashHex, 'hex')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  url.search = `?info_hash=${escaped}`;
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        // d5:filesd20:<hash>d8:completei1e10:downloadedi0e10:incompletei0eeee: one hash asked, so
        // one `complete` and one `incomplete` at most.
        const body = Buffer.concat(chunks).toString('latin1');
        if (res.statusCode !== 200) return reject(new Error(`scrape: HTTP ${res.statusCode}: ${body.slice(0, 200)}`));
        if (/failure reason/.test(body)) return reject(new Error(`scrape refused: ${body.slice(0, 200)}`));
        const num = (key: string) => Number(new RegExp(`\\d+:${key}i(\\d+)e`).exec(body)?.[1] ?? 0);
        resolve({ complete: num('complete'), incomplete: num('incomplete') });
      });
    });
    req.on('timeout', () => req.destroy(new Error('scrape timed out')));
    req.on('error', reject);
  });
}

/** Waits until the tracker's counts for the torrent satisfy `pred`. */
export function waitForSwarm(t: RunningTracker, infoHashHex: string, what: string, pred: (c: SwarmCounts) => boolean, timeoutMs: number, detail?: () => string): Promise<SwarmCounts> {
  return waitUntil(
    `${what} (${t.kind} at ${t.announceUrl})`,
    async () => {
      const c = await scrapeCounts(t.announceUrl, infoHashHex);
      return pred(c) ? c : undefined;
    },
    timeoutMs,
    { everyMs: 150, detail },
  );
}

/**
 * Starts opentracker on a free port with `infoHashesHex` whitelisted. `dir` must be a folder that
 * user `nobody` can reach (the caller makes its parents traversable); the list goes in `dir/ot/`.
 */
export async function startOpentracker(binary: string, dir: string, infoHashesHex: string[]): Promise<RunningTracker> {
  const otDir = path.join(dir, 'opentracker');
  await mkdir(otDir, { recursive: true });
  await chmod(otDir, 0o755);
  const whitelist = path.join(otDir, 'whitelist.txt');
  await writeFile(whitelist, infoHashesHex.map((h) => `${h}\n`).join(''));
  await chmod(whitelist, 0o644);
  const port = await freePort();
  const child = startChild('opentracker', binary, ['-i', LOOPBACK, '-p', String(port), '-P', String(port), '-w', whitelist], { cwd: '/' });
  const t: RunningTracker = {
    kind: 'opentracker',
    announceUrl: `http://${LOOPBACK}:${port}/announce`,
    child,
    stop: async () => void (await child.stop('SIGTERM', 2000)),
  };
  try {
    // Ready when it answers a scrape of a whitelisted hash.
    await waitUntil(`opentracker to answer on port ${port}`, async () => {
      if (!child.alive()) throw new GiveUp(`opentracker exited with ${child.proc.exitCode ?? child.proc.signalCode}\n${child.tail()}`);
      await scrapeCounts(t.announceUrl, infoHashesHex[0]!, 500);
      return true;
    }, 5000, { everyMs: 100, detail: () => child.tail() });
  } catch (e) {
    await t.stop();
    throw e;
  }
  return t;
}

/** Starts `seedbank tracker --port 0 --host 127.0.0.1 --json` and reads its announce URL. */
export async function startSeedbankTracker(): Promise<RunningTracker> {
  const child = startChild('seedbank tracker', process.execPath, [CLI, 'tracker', '--port', '0', '--host', LOOPBACK, '--json']);
  const t: RunningTracker = { kind: 'seedbank', announceUrl: '', child, stop: async () => void (await child.stop('SIGTERM', 3000)) };
  try {
    t.announceUrl = await waitUntil('seedbank tracker to print its URLs', () => {
      if (!child.alive()) throw new GiveUp(`seedbank tracker exited with ${child.proc.exitCode ?? child.proc.signalCode}\n${child.tail()}`);
      const lines = child.output().split('\n');
      lines.pop(); // an unfinished line
      const line = lines.find((l) => l.startsWith('{'));
      return line ? (JSON.parse(line) as { http: string }).http : undefined;
    }, 10_000, { everyMs: 50, detail: () => child.tail() });
  } catch (e) {
    await t.stop();
    throw e;
  }
  if (!t.announceUrl.startsWith(`http://${LOOPBACK}:`)) throw new Error(`unexpected announce URL ${t.announceUrl}`);
  return t;
}
