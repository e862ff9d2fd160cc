/**
 * One seedbank node for bench/origin: downloads the dataset from the HTTP origin (web seed) and
 * from the other nodes, then keeps serving them until told to stop.
 *
 * Protocol (JSON lines; stdout to the parent, stdin from it):
 * - out `{"event":"ready","port":P}`: listening on 127.0.0.1:P, torrent parsed, nothing started.
 * - in  `{"cmd":"go","peers":["127.0.0.1:Q",...]}`: start now (`startDownload`), dialing those peers.
 * - out `{"event":"done","at":<epoch ms>,...}` once every piece is verified and written, with the
 *   bytes it got from the origin and from peers; or `{"event":"failed",...}` (timeout, storage).
 * - stdin closes (the parent is finished or gone): prints `{"event":"final",...}` (what it
 *   uploaded, CPU seconds since "go"), stops and exits. --timeout bounds its life in any case.
 * - --trace: `{"event":"trace",...}` once a second from "go" on (pieces, bytes, CPU, event-loop use).
 *
 * Why the listening socket exists before "go": a node that dials a peer whose process has not yet
 * reached `listen` is refused and retries only after a back-off, and meanwhile both fetch from the
 * origin without knowing of each other, which is not what a swarm of nodes started together does.
 * So the node listens from the start, holds any connection that arrives early, and hands that
 * same server to the session when it starts (`adoptServer`). The session sees an ordinary
 * `net.createServer` + `listen`; nothing in src/ knows about it.
 *
 * usage: node dist/bench/origin/sb_node.js <torrent> <data-dir> <web-seed-url> [--timeout 600]
 */
import { readFile } from 'node:fs/promises';
import net, { type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { EventChannel, type Transfer, parseTorrent, startDownload } from '../../src/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { timeout: { type: 'string', default: '600' }, trace: { type: 'boolean', default: false } },
});
const [torrentFile, dataDir, webSeed] = positionals;
const t = parseTorrent(await readFile(torrentFile!));

/** CPU time of the whole process (main thread, hashing workers, the kernel on its behalf) since "go". */
let cpuAtGo = 0;
const cpuSeconds = (): number => {
  const u = process.resourceUsage();
  return (u.userCPUTime + u.systemCPUTime) / 1e6 - cpuAtGo;
};
const say = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

// --- a listening socket before the session exists ----------------------------------------------
const held: Socket[] = [];
const hold = (s: Socket): void => void held.push(s);
const pre = net.createServer({ pauseOnConnect: true }, hold);
await new Promise<void>((resolve, reject) => {
  pre.once('error', reject);
  pre.listen(0, '127.0.0.1', () => resolve());
});
const port = (pre.address() as net.AddressInfo).port;

/**
 * Makes the next `net.createServer({pauseOnConnect: true}, listener)` (the session's) return `pre`,
 * already listening, with `listener` in place of `hold` and the held sockets handed to it; its
 * `listen()` then only calls back.
 */
function adoptServer(): void {
  const create = net.createServer;
  net.createServer = function (this: unknown, ...args: unknown[]): Server {
    const [opts, listener] = args as [net.ServerOpts | undefined, ((s: Socket) => void) | undefined];
    if (typeof opts !== 'object' || !opts?.pauseOnConnect || typeof listener !== 'function') return (create as (...a: unknown[]) => Server).apply(this, args);
    net.createServer = create;
    pre.off('connection', hold);
    pre.on('connection', listener);
    pre.listen = function (this: Server, ...largs: unknown[]): Server {
      const cb = largs.find((a) => typeof a === 'function') as (() => void) | undefined;
      if (cb) process.nextTick(cb);
      return this;
    } as Server['listen'];
    for (const s of held.splice(0)) process.nextTick(() => pre.emit('connection', s));
    return pre;
  } as typeof net.createServer;
}

say({ event: 'ready', port, pieces: t.numPieces, pieceLength: t.pieceLength });

// --- run ----------------------------------------------------------------------------------------
let tr: Transfer | null = null;
let started = false;
let finished = false;
let stopping = false;
const originPieces: number[] = [];

async function stop(why: string): Promise<never> {
  if (!stopping) {
    stopping = true;
    const s = tr?.stats();
    say({ event: 'final', why, bytesUploaded: s?.bytesUploaded ?? 0, cpuSeconds: cpuSeconds() });
    await Promise.race([tr?.stop().catch(() => {}), new Promise((r) => setTimeout(r, 10_000))]);
    pre.close();
  }
  process.exit(0);
}

async function go(peers: string[]): Promise<void> {
  const goAt = Date.now();
  cpuAtGo = cpuSeconds();
  const events = new EventChannel();
  // Pieces whose blocks came (at least partly) from the origin: for finding pieces it served twice.
  events.on('torrent:piece-verified', ({ index, source }) => {
    if (source.includes('web:')) originPieces.push(index);
  });
  adoptServer();
  tr = await startDownload(t, { dataDir: dataDir!, webSeeds: [webSeed!], peers, events });
  if (tr.session.port !== port) throw new Error(`the session listens on ${tr.session.port}, not on the prepared port ${port}`);
  if (values.trace) {
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = process.cpuUsage();
    let last = { elu: elu0, cpu: cpu0 };
    const timer = setInterval(() => {
      const s = tr!.stats();
      const elu = performance.eventLoopUtilization();
      const cpu = process.cpuUsage();
      say({
        event: 'trace',
        at: Date.now(),
        have: s.piecesHave,
        fromOrigins: s.bytesFromOrigins,
        fromPeers: s.bytesFromPeers,
        uploaded: s.bytesUploaded,
        connections: s.connections,
        elu: performance.eventLoopUtilization(elu, last.elu).utilization,
        cpu: (cpu.user + cpu.system - last.cpu.user - last.cpu.system) / 1e6,
      });
      last = { elu, cpu };
    }, 1000);
    timer.unref();
  }
  const result = await tr.torrent.done.then(
    () => 'ok',
    (e: Error) => `storage failure: ${e.message}`,
  );
  const at = Date.now();
  finished = true;
  const s = tr.stats();
  say({
    event: result === 'ok' ? 'done' : 'failed',
    ...(result === 'ok' ? {} : { error: result }),
    goAt,
    at,
    bytesFromOrigins: s.bytesFromOrigins,
    bytesFromPeers: s.bytesFromPeers,
    hashFailures: s.hashFailures,
    connections: s.connections,
    cpuSeconds: cpuSeconds(),
    maxRssKb: process.resourceUsage().maxRSS,
    originRequests: s.origins.reduce((n, o) => n + o.requests, 0),
    originPieces,
  });
}

setTimeout(() => {
  if (finished) return void stop('timeout');
  const s = tr?.stats();
  say({ event: 'failed', error: `timeout after ${values.timeout} s`, pieces: s ? `${s.piecesHave}/${t.numPieces}` : 'not started' });
  void stop('timeout');
}, Number(values.timeout) * 1000).unref();

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  let msg: { cmd?: string; peers?: string[] };
  try {
    msg = JSON.parse(line) as typeof msg;
  } catch {
    return;
  }
  if (msg.cmd === 'go' && !started) {
    started = true;
    go(msg.peers ?? []).catch((e: Error) => {
      say({ event: 'failed', error: e.message });
      void stop('error');
    });
  }
});
lines.on('close', () => void stop('stdin closed'));
process.once('SIGTERM', () => void stop('SIGTERM'));
