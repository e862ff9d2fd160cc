/**
 * Transfers with Transmission (transmission-cli 3.00) and aria2 (aria2c 1.36), both directions,
 * bit-exact, through a tracker: once through opentracker and once through `seedbank tracker`.
 *
 * Both clients predate BEP 52, so the torrent is v1 (`seedbank create --v1 --piece-length 16384`)
 * of the multi-file interop dataset (nested folders, empty files, non-ASCII names, files of one
 * piece and one piece plus one byte). Every peer learns the others from the tracker only: no
 * `--peer`, no DHT, LPD or PEX. The other client gets a copy of the torrent that names the tracker
 * (`announce`); seedbank gets the same info dictionary without it and `--tracker URL`.
 *
 * Facts these tests rely on (see /work/shared/INTEROP-NOTES.md and the helpers in ./clients/):
 * Transmission never dials a peer that a tracker lists on 127.x, so when seedbank seeds to it,
 * Transmission starts (and announces) first and seedbank dials it; Transmission 3.00 does not
 * create zero-length files; aria2 needs a tracker to find any peer. Each case waits, by scraping
 * the tracker, until the peer that must be found has announced, so that the other side's first
 * announce is sure to list it (trackers ask for re-announces every 30 minutes).
 *
 * Each case has its own temporary folder, dataset and tracker, and kills what it started. Without
 * a binary the cases that need it are skipped, except under CI (`CI` set), where they fail.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { type Dataset, makeInteropDataset } from '../helpers/dataset.js';
import { type Background, CLI, background } from '../helpers/procs.js';
import { startAria2 } from './clients/aria2.js';
import { findBinary, freePort, killAllChildren, startChild, treeDifferences, waitUntil } from './clients/common.js';
import { type RunningTracker, type TrackerKind, startOpentracker, startSeedbankTracker, waitForSwarm } from './clients/trackers.js';
import { startTransmission } from './clients/transmission.js';

const PIECE = 16384;

/** Binaries and the Debian packages that hold them. */
const TOOLS = {
  transmission: { binary: findBinary('transmission-cli'), pkg: 'transmission-cli' },
  aria2: { binary: findBinary('aria2c'), pkg: 'aria2' },
  opentracker: { binary: findBinary('opentracker'), pkg: 'opentracker' },
} as const;
type Tool = keyof typeof TOOLS;

function missing(tools: Tool[]): string[] {
  return tools.filter((t) => !TOOLS[t].binary).map((t) => TOOLS[t].pkg);
}

/** Skip reason when a tool is missing, except under CI: there the case runs and fails (requireTools). */
function skipUnless(tools: Tool[]): string | false {
  const m = missing(tools);
  if (m.length === 0 || process.env['CI']) return false;
  return `not installed: ${m.join(', ')} (apt-get install ${m.join(' ')}, or run .ci/run)`;
}

function requireTools(tools: Tool[]): void {
  const m = missing(tools);
  if (m.length > 0) assert.fail(`not installed: ${m.join(', ')}; CI must have them (.ci/run installs them)`);
}

function bin(tool: Tool): string {
  return TOOLS[tool].binary!;
}

interface Case {
  dir: string;
  ds: Dataset;
  /** Save path of the source copy: the data is in `srcDir/<name>`. */
  srcDir: string;
  infoHash: string;
  /** The v1 torrent without trackers: for seedbank, with `--tracker`. */
  bareTorrent: string;
  /** The same info dictionary with `announce` = the tracker: for Transmission and aria2. */
  announceTorrent: string;
  tracker: RunningTracker;
  /** A `seedbank seed` with `--tracker`, killed at the end of the case if still running. */
  seed(): Promise<Background>;
  /** `seedbank get --tracker --json` into `out`; its exit code and parsed JSON. */
  get(out: string): Promise<GetRun>;
}

interface GetResult {
  complete: boolean;
  bytesDownloaded: { peers: number };
  hashFailures: number;
  pieces: { have: number; total: number };
}

interface GetRun {
  code: number | null;
  result: GetResult;
  /** stdout and stderr, for messages. */
  output: string;
}

interface CreateResult {
  infoHashV1: string;
  trackers: string[][];
}

async function create(root: string, out: string, trackers: string[]): Promise<CreateResult> {
  const r = await runCli(['create', root, '-o', out, '--v1', '--piece-length', String(PIECE), '--json', ...trackers.flatMap((t) => ['--tracker', t])], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, `seedbank create failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as CreateResult;
}

/** Every `seedbank seed` started, so that `after` kills them even if a case was cut off by its timeout. */
const allSeeds = new Set<Background>();

/** Runs `body` with a fresh folder, dataset, torrents and tracker; removes and stops all of it after. */
async function withCase(kind: TrackerKind, body: (c: Case) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `seedbank-clients-${kind}-`));
  const seedbanks: Background[] = [];
  let tracker: RunningTracker | null = null;
  try {
    // opentracker runs as nobody: it must be able to go through this folder to its whitelist.
    await chmod(dir, 0o711);
    const srcDir = path.join(dir, 'src');
    const ds = await makeInteropDataset(srcDir, PIECE);
    const bareTorrent = path.join(dir, 'bare.torrent');
    const bare = await create(ds.root, bareTorrent, []);
    const infoHash = bare.infoHashV1;
    tracker = kind === 'opentracker' ? await startOpentracker(bin('opentracker'), dir, [infoHash]) : await startSeedbankTracker();
    const announceTorrent = path.join(dir, 'announce.torrent');
    const withTracker = await create(ds.root, announceTorrent, [tracker.announceUrl]);
    assert.equal(withTracker.infoHashV1, infoHash, 'the tracker URL is outside the info dictionary');
    assert.deepEqual(withTracker.trackers, [[tracker.announceUrl]]);
    const url = tracker.announceUrl;
    await body({
      dir,
      ds,
      srcDir,
      infoHash,
      bareTorrent,
      announceTorrent,
      tracker,
      async seed() {
        const b = background(process.execPath, [CLI, 'seed', bareTorrent, srcDir, '--tracker', url, '--json']);
        seedbanks.push(b);
        allSeeds.add(b);
        await b.waitFor((l) => l['event'] === 'seeding', 30_000);
        return b;
      },
      async get(out) {
        // On timeout it gets SIGTERM first, so that the error shows the summary it prints when stopped.
        const g = startChild('seedbank get', process.execPath, [CLI, 'get', bareTorrent, '-o', out, '--tracker', url, '--json']);
        const code = await g.waitExit(60_000, 'SIGTERM');
        let result: GetResult;
        try {
          result = JSON.parse(g.stdout()) as GetResult;
        } catch {
          assert.fail(`seedbank get exited ${code} without its JSON result\n${g.tail()}`);
        }
        return { code, result, output: g.output() };
      },
    });
  } finally {
    await Promise.all(seedbanks.map((b) => b.stop('SIGKILL').then(() => allSeeds.delete(b))));
    await tracker?.stop();
    await killAllChildren(); // whatever the case left running: Transmission, aria2, seedbank get
    await rm(dir, { recursive: true, force: true });
  }
}

/** Checks what `seedbank get` reported and what it wrote. */
async function assertGot(c: Case, out: string, r: GetRun): Promise<void> {
  const { result } = r;
  assert.equal(r.code, 0, `seedbank get exit status; output: ${r.output.slice(-3000)}`);
  assert.equal(result.complete, true);
  assert.equal(result.hashFailures, 0);
  assert.equal(result.pieces.have, result.pieces.total);
  assert.ok(result.bytesDownloaded.peers >= c.ds.totalLength, `downloaded ${result.bytesDownloaded.peers} of ${c.ds.totalLength} bytes`);
  assert.deepEqual(await treeDifferences(out, c.ds, { allowedTopLevel: ['.seedbank'] }), []);
}

/** Stops a `seedbank seed` with SIGINT and checks that it exits 0 having uploaded the dataset. */
async function assertSeedStops(c: Case, sb: Background): Promise<void> {
  assert.equal(await sb.stop('SIGINT'), 0, `seedbank seed exit status; stderr: ${sb.stderr().slice(-2000)}`);
  const stopped = sb.lines.find((l) => l['event'] === 'stopped');
  assert.ok(stopped, 'seedbank seed prints a "stopped" line');
  assert.ok(Number(stopped['bytesUploaded']) >= c.ds.totalLength, `uploaded ${String(stopped['bytesUploaded'])} of ${c.ds.totalLength} bytes`);
}

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

after(async () => {
  await Promise.all([...allSeeds].map((b) => b.stop('SIGKILL')));
  await killAllChildren();
});

const TRACKERS: Array<{ kind: TrackerKind; label: string; tools: Tool[] }> = [
  { kind: 'opentracker', label: 'opentracker', tools: ['opentracker'] },
  { kind: 'seedbank', label: 'seedbank tracker', tools: [] },
];

for (const { kind, label, tools } of TRACKERS) {
  describe(`v1 transfers with Transmission and aria2 through ${label}`, () => {
    const TR: Tool[] = [...tools, 'transmission'];
    const A2: Tool[] = [...tools, 'aria2'];

    it('seedbank seeds, Transmission downloads (seedbank dials Transmission, found through the tracker)', { skip: skipUnless(TR), timeout: 120_000 }, async (t) => {
      requireTools(TR);
      await withCase(kind, async (c) => {
        const t0 = Date.now();
        const dl = path.join(c.dir, 'transmission-dl');
        const tr = await startTransmission(bin('transmission'), { configDir: path.join(c.dir, 'transmission-config'), downloadDir: dl, torrent: c.announceTorrent, port: await freePort() });
        // Transmission ignores tracker-listed 127.x peers: it must be on the tracker before seedbank announces.
        await waitForSwarm(c.tracker, c.infoHash, 'Transmission to announce as a leecher', (s) => s.incomplete >= 1, 20_000, () => tr.tail());
        t.diagnostic(`Transmission announced after ${seconds(t0)}`);
        const t1 = Date.now();
        const sb = await c.seed();
        let diff: string[] = [];
        await waitUntil(
          'Transmission to hold every byte of the dataset',
          async () => {
            if (!tr.alive()) throw new Error(`transmission-cli exited\n${tr.tail()}`);
            diff = await treeDifferences(dl, c.ds, { emptyFilesOptional: true });
            return diff.length === 0 ? true : undefined;
          },
          60_000,
          { everyMs: 250, detail: () => `differences: ${diff.join('; ')}\n${tr.tail()}\nseedbank stderr: ${sb.stderr().slice(-2000)}` },
        );
        t.diagnostic(`Transmission has every byte ${seconds(t1)} after seedbank started`);
        // And Transmission itself counts the download as complete (it checked every piece's SHA-1):
        // it announces `completed`, so the tracker lists two seeders.
        await waitForSwarm(c.tracker, c.infoHash, 'Transmission to announce itself complete', (s) => s.complete >= 2, 15_000, () => tr.tail());
        t.diagnostic(`Transmission announced completion ${seconds(t1)} after seedbank started`);
        await assertSeedStops(c, sb);
        await tr.stop('SIGTERM', 5000);
      });
    });

    it('Transmission seeds, seedbank downloads (get dials Transmission, found through the tracker)', { skip: skipUnless(TR), timeout: 120_000 }, async (t) => {
      requireTools(TR);
      await withCase(kind, async (c) => {
        const t0 = Date.now();
        const tr = await startTransmission(bin('transmission'), { configDir: path.join(c.dir, 'transmission-config'), downloadDir: c.srcDir, torrent: c.announceTorrent, port: await freePort(), verify: true });
        await waitForSwarm(c.tracker, c.infoHash, 'Transmission to check the data and announce as a seeder', (s) => s.complete >= 1, 20_000, () => tr.tail());
        t.diagnostic(`Transmission seeding after ${seconds(t0)}`);
        const t1 = Date.now();
        const out = path.join(c.dir, 'seedbank-dl');
        const r = await c.get(out);
        t.diagnostic(`seedbank get finished in ${seconds(t1)}`);
        await assertGot(c, out, r);
        assert.ok(tr.alive(), `transmission-cli is still seeding\n${tr.tail()}`);
        await tr.stop('SIGTERM', 5000);
      });
    });

    it('seedbank seeds, aria2 downloads (aria2 dials seedbank, found through the tracker)', { skip: skipUnless(A2), timeout: 120_000 }, async (t) => {
      requireTools(A2);
      await withCase(kind, async (c) => {
        const t0 = Date.now();
        const sb = await c.seed();
        await waitForSwarm(c.tracker, c.infoHash, 'seedbank seed to announce as a seeder', (s) => s.complete >= 1, 20_000, () => sb.stderr().slice(-2000));
        t.diagnostic(`seedbank seeding and announced after ${seconds(t0)}`);
        const t1 = Date.now();
        const out = path.join(c.dir, 'aria2-dl');
        const a2 = await startAria2(bin('aria2'), { torrent: c.announceTorrent, dir: out, port: await freePort() });
        const code = await a2.waitExit(60_000);
        t.diagnostic(`aria2c exited ${code} after ${seconds(t1)}`);
        assert.equal(code, 0, `aria2c exit status (0: every file downloaded and checked)\n${a2.tail()}`);
        // Strict: aria2 creates empty files and removes its control file (<name>.aria2) at the end.
        assert.deepEqual(await treeDifferences(out, c.ds), []);
        await assertSeedStops(c, sb);
      });
    });

    it('aria2 seeds, seedbank downloads (get dials aria2, found through the tracker)', { skip: skipUnless(A2), timeout: 120_000 }, async (t) => {
      requireTools(A2);
      await withCase(kind, async (c) => {
        const t0 = Date.now();
        const a2 = await startAria2(bin('aria2'), { torrent: c.announceTorrent, dir: c.srcDir, port: await freePort(), seed: true });
        await waitForSwarm(c.tracker, c.infoHash, 'aria2 to check the data and announce as a seeder', (s) => s.complete >= 1, 20_000, () => a2.tail());
        t.diagnostic(`aria2 seeding after ${seconds(t0)}`);
        const t1 = Date.now();
        const out = path.join(c.dir, 'seedbank-dl');
        const r = await c.get(out);
        t.diagnostic(`seedbank get finished in ${seconds(t1)}`);
        await assertGot(c, out, r);
        assert.ok(a2.alive(), `aria2c is still seeding\n${a2.tail()}`);
        await a2.stop('SIGTERM', 5000);
      });
    });
  });
}
