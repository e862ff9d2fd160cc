/**
 * BEP 19 web seeds with libtorrent 2.0.8 (python3-libtorrent), both directions, bit-exact, over the
 * multi-file interop dataset whose hybrid form has pad files, served by seedbank's static HTTP
 * origin (src/origin/http-origin.ts) on loopback:
 * - seedbank downloads with a `url-list` torrent that libtorrent created (a folder URL for the
 *   multi-file torrent, a file URL for a single-file one), with no peers at all;
 * - libtorrent downloads with a torrent that `seedbank create --webseed` made, with no peers;
 * - seedbank downloads from a libtorrent seed and the web seed at once (`--origin-policy origin-first`).
 *
 * The dataset's names are non-ASCII (folder `ds-ünï`, `données/日本語.bin`, `émoji-🚀.txt`), so both
 * clients' URL encoding meets the origin's per-segment decoding.
 */
import assert from 'node:assert/strict';
import { execFile as execFileCb } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type HttpOrigin, startOrigin } from '../../src/origin/http-origin.js';
import { runCli } from '../helpers/cli.js';
import { type Dataset, deterministicBytes, makeInteropDataset } from '../helpers/dataset.js';
import { type Background, PYTHON, background, repoRoot, LIBTORRENT_SKIP, requireLibtorrentInCi } from '../helpers/procs.js';

const execFile = promisify(execFileCb);
const WEBSEED = path.join(repoRoot(), 'test', 'interop', 'lt_webseed.py');
const PEER = path.join(repoRoot(), 'test', 'interop', 'lt_peer.py');
const PIECE = 16384;
/** The file of the single-file case: several pieces and a partial last one, a non-ASCII path. */
const SINGLE = 'données/日本語.bin';
/** Every child process and every test is bounded by these (seconds / milliseconds). */
const LT_TIMEOUT_S = 60;
const STEP_MS = 90_000;
const TEST_MS = 180_000;

const SKIP = LIBTORRENT_SKIP;

let tmp: string;
let ds: Dataset;
let origin: HttpOrigin;
const running: Background[] = [];

before(async () => {
  requireLibtorrentInCi();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'seedbank-lt-webseed-'));
  ds = await makeInteropDataset(path.join(tmp, 'src'), PIECE);
  // The origin serves the dataset folder's parent: BEP 19 maps a folder URL to url + name + '/' + path.
  origin = await startOrigin({ root: path.join(tmp, 'src') });
});
after(async () => {
  await Promise.all(running.map((b) => b.stop('SIGKILL')));
  await origin?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Every file of the dataset (empty ones too) is in `dir/<name>/` with the same bytes. */
async function sameTree(dir: string): Promise<void> {
  for (const f of ds.files) {
    const want = await readFile(path.join(ds.root, f.path));
    const got = await readFile(path.join(dir, ds.name, f.path)).catch(() => null);
    assert.ok(got && want.equals(got), `${f.path} differs or is missing in ${dir}`);
  }
}

/** The origin URL of a path under its root, each segment percent-encoded. */
function originUrl(rel: string): string {
  return origin.url + rel.split('/').map(encodeURIComponent).join('/');
}

interface LtCreated {
  v1: boolean;
  v2: boolean;
  files: number;
  padFiles: number;
}

/** libtorrent's create_torrent with default flags (hybrid) and `webseed` as its url-list. */
async function ltCreate(input: string, out: string, webseed: string): Promise<LtCreated> {
  const { stdout } = await execFile(PYTHON, [WEBSEED, 'create', input, out, '--webseed', webseed, '--piece-length', String(PIECE)], { timeout: STEP_MS });
  const made = JSON.parse(stdout) as LtCreated;
  assert.ok(made.v1 && made.v2, `libtorrent made a hybrid torrent: ${stdout}`);
  return made;
}

interface GetResult {
  complete: boolean;
  hashFailures: number;
  bytesDownloaded: { peers: number; origins: number };
  origins: Array<{ url: string; bytes: number; failures: number; hashFailures: number; state: string; lastError: string | null }>;
}

async function seedbankGet(args: string[]): Promise<GetResult> {
  const r = await runCli(['get', ...args, '--json'], { timeoutMs: STEP_MS });
  assert.equal(r.code, 0, `seedbank get exited ${r.code}: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout) as GetResult;
}

function track(b: Background): Background {
  running.push(b);
  return b;
}

describe('libtorrent interop: BEP 19 web seeds', { skip: SKIP }, () => {
  it("seedbank downloads a multi-file hybrid torrent that libtorrent made, from its url-list folder URL only", { timeout: TEST_MS }, async () => {
    const file = path.join(tmp, 'lt-multi.torrent');
    const made = await ltCreate(ds.root, file, origin.url);
    assert.equal(made.files, ds.files.length);
    assert.ok(made.padFiles > 0, "libtorrent's hybrid torrent of the dataset has pad files");
    const before = origin.stats.bytesSent;

    const out = path.join(tmp, 'sb-from-lt-url-list');
    const r = await seedbankGet([file, '-o', out]);
    assert.equal(r.complete, true);
    assert.equal(r.hashFailures, 0);
    assert.equal(r.bytesDownloaded.peers, 0, 'there are no peers');
    // Pad bytes are zeros made locally: the origin serves exactly the files' bytes.
    assert.equal(r.bytesDownloaded.origins, ds.totalLength);
    assert.equal(r.origins.length, 1);
    assert.equal(r.origins[0]!.url, origin.url);
    assert.equal(r.origins[0]!.failures, 0, `origin errors: ${r.origins[0]!.lastError}`);
    assert.equal(origin.stats.bytesSent - before, ds.totalLength, 'the origin sent each byte once');
    await sameTree(out);
  });

  it('seedbank downloads a single-file torrent that libtorrent made, from its url-list file URL only', { timeout: TEST_MS }, async () => {
    const file = path.join(tmp, 'lt-single.torrent');
    const url = originUrl(`${ds.name}/${SINGLE}`);
    const made = await ltCreate(path.join(ds.root, SINGLE), file, url);
    assert.equal(made.files, 1);
    const length = ds.files.find((f) => f.path === SINGLE)!.length;

    const out = path.join(tmp, 'sb-from-lt-single');
    const r = await seedbankGet([file, '-o', out]);
    assert.equal(r.complete, true);
    assert.equal(r.hashFailures, 0);
    assert.equal(r.bytesDownloaded.peers, 0, 'there are no peers');
    assert.equal(r.bytesDownloaded.origins, length);
    assert.equal(r.origins[0]!.url, url);
    assert.equal(r.origins[0]!.failures, 0, `origin errors: ${r.origins[0]!.lastError}`);
    const got = await readFile(path.join(out, path.basename(SINGLE)));
    assert.ok(got.equals(deterministicBytes(SINGLE, length)), `${SINGLE} differs`);
  });

  it('libtorrent downloads a torrent that seedbank created with --webseed, from the web seed only', { timeout: TEST_MS }, async () => {
    const file = path.join(tmp, 'sb-webseed.torrent');
    const c = await runCli(['create', ds.root, '--webseed', origin.url, '-o', file, '--piece-length', String(PIECE), '--json'], { timeoutMs: STEP_MS });
    assert.equal(c.code, 0, c.stderr);
    assert.ok((JSON.parse(c.stdout) as { padFiles: number }).padFiles > 0, 'the hybrid torrent has pad files');
    const before = { rangeRequests: origin.stats.rangeRequests, bytesSent: origin.stats.bytesSent };

    const out = path.join(tmp, 'lt-from-webseed');
    const { stdout } = await execFile(PYTHON, [WEBSEED, 'download', file, out, '--timeout', String(LT_TIMEOUT_S)], { timeout: STEP_MS });
    const r = JSON.parse(stdout) as { ok: boolean; progress: number; state: string; errors: string[] };
    assert.equal(r.ok, true, `libtorrent stopped at ${r.progress} (${r.state}): ${r.errors.join('; ')}`);
    await sameTree(out);
    assert.ok(origin.stats.rangeRequests > before.rangeRequests, 'libtorrent asked for byte ranges');
    assert.ok(origin.stats.bytesSent - before.bytesSent >= ds.totalLength, 'libtorrent got every byte from the origin');
    // Only the dataset's own files were ever served: no pad file, no path of the wrong shape.
    const files = new Set(ds.files.map((f) => `/${ds.name}/${f.path}`));
    for (const p of origin.stats.byPath.keys()) assert.ok(files.has(p), `the origin served ${p}`);
  });

  it('seedbank downloads from a libtorrent seed and the web seed together (--origin-policy origin-first)', { timeout: TEST_MS }, async () => {
    // A torrent without a url-list: the web seed comes from the command line.
    const file = path.join(tmp, 'sb-plain.torrent');
    const c = await runCli(['create', ds.root, '-o', file, '--piece-length', String(PIECE)], { timeoutMs: STEP_MS });
    assert.equal(c.code, 0, c.stderr);
    const lt = track(background(PYTHON, [PEER, 'seed', file, path.join(tmp, 'src'), '--timeout', String(LT_TIMEOUT_S)]));
    const ready = await lt.waitFor((l) => l['event'] === 'ready', 30_000);

    const out = path.join(tmp, 'sb-from-lt-and-webseed');
    const r = await seedbankGet([file, '-o', out, '--webseed', origin.url, '--origin-policy', 'origin-first', '--peer', `127.0.0.1:${String(ready['port'])}`]);
    assert.equal(r.complete, true);
    assert.equal(r.hashFailures, 0);
    // Which source served what depends on timing; together they served all of it.
    assert.ok(r.bytesDownloaded.peers + r.bytesDownloaded.origins >= ds.totalLength, JSON.stringify(r.bytesDownloaded));
    assert.equal(r.origins[0]!.failures, 0, `origin errors: ${r.origins[0]!.lastError}`);
    await sameTree(out);
    await lt.stop();
  });
});
