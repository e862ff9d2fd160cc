import assert from 'node:assert/strict';
import { mkdir, mkdtemp, open, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bencode } from '../../src/codec/bencode.js';
import { isOneLine, runCli } from '../helpers/cli.js';

let tmp: string;
const PIECE = 16384;

async function writeSized(file: string, size: number, seed: number): Promise<void> {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  await writeFile(file, b);
}

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'seedbank-cli-'));
  const ds = path.join(tmp, 'data', 'ds');
  await mkdir(path.join(ds, 'sub'), { recursive: true });
  await writeSized(path.join(ds, 'a.bin'), 3 * PIECE + 5, 1);
  await writeSized(path.join(ds, 'sub', 'b.bin'), PIECE, 2);
  await writeSized(path.join(ds, 'sub', 'c.txt'), 10, 3);
  await writeFile(path.join(ds, 'empty'), '');
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function json(s: string): Record<string, unknown> {
  return JSON.parse(s) as Record<string, unknown>;
}

describe('seedbank create / info / verify', () => {
  for (const version of ['v1', 'v2', 'hybrid'] as const) {
    it(`${version}: create --json equals info --json, and verify finds the data complete`, async () => {
      const out = path.join(tmp, `ds-${version}.torrent`);
      const c = await runCli(['create', path.join(tmp, 'data', 'ds'), '-o', out, `--${version}`, '--piece-length', String(PIECE), '--json']);
      assert.equal(c.code, 0, c.stderr);
      const created = json(c.stdout);
      const i = await runCli(['info', out, '--json']);
      assert.equal(i.code, 0, i.stderr);
      const info = json(i.stdout);
      for (const k of ['name', 'pieceLength', 'totalLength', 'infoHashV1', 'infoHashV2', 'magnet', 'files']) assert.deepEqual(created[k], info[k], k);
      assert.equal(info['name'], 'ds');
      assert.equal(info['pieceLength'], PIECE);
      assert.equal(info['totalLength'], 3 * PIECE + 5 + PIECE + 10);
      assert.equal(info['infoHashV1'] === null, version === 'v2');
      assert.equal(info['infoHashV2'] === null, version === 'v1');
      const files = info['files'] as Array<{ path: string; length: number; piecesRoot: string | null }>;
      assert.deepEqual(
        files.map((f) => [f.path, f.length]),
        [
          ['a.bin', 3 * PIECE + 5],
          ['empty', 0],
          ['sub/b.bin', PIECE],
          ['sub/c.txt', 10],
        ],
      );
      if (version !== 'v1') assert.ok(files.every((f) => (f.length === 0) === (f.piecesRoot === null)));
      const v = await runCli(['verify', out, path.join(tmp, 'data'), '--json']);
      assert.equal(v.code, 0, v.stdout + v.stderr);
      assert.equal(json(v.stdout)['complete'], true);
    });
  }

  it('names the corrupt file and piece, a missing file and a short file, and exits 1', async () => {
    const src = path.join(tmp, 'data', 'ds');
    const copy = path.join(tmp, 'copy');
    await mkdir(copy);
    const out = path.join(tmp, 'ds-h.torrent');
    assert.equal((await runCli(['create', src, '-o', out, '--piece-length', String(PIECE)])).code, 0);
    await runCliCopy(src, path.join(copy, 'ds'));
    // a.bin: flip a byte in its third piece (pieces 0-3 hold a.bin, hybrid aligns each file).
    const fh = await open(path.join(copy, 'ds', 'a.bin'), 'r+');
    await fh.write(Buffer.from([0xee]), 0, 1, 2 * PIECE + 100);
    await fh.close();
    await unlink(path.join(copy, 'ds', 'sub', 'c.txt'));
    await truncate(path.join(copy, 'ds', 'sub', 'b.bin'), 100);
    const v = await runCli(['verify', out, copy, '--json']);
    assert.equal(v.code, 1);
    const r = json(v.stdout) as { complete: boolean; files: Array<{ path: string; state: string; corruptPieces: number[] }>; corruptPieces: number[] };
    assert.equal(r.complete, false);
    const byPath = new Map(r.files.map((f) => [f.path, f]));
    assert.equal(byPath.get('a.bin')!.state, 'corrupt');
    assert.deepEqual(byPath.get('a.bin')!.corruptPieces, [2]);
    assert.equal(byPath.get('sub/c.txt')!.state, 'missing');
    assert.equal(byPath.get('sub/b.bin')!.state, 'incomplete');
    assert.equal(byPath.get('empty')!.state, 'complete');
    assert.deepEqual(r.corruptPieces, [2]);
    const text = await runCli(['verify', out, copy]);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /corrupt\s+a\.bin: corrupt piece 2\b/);
    assert.match(text.stdout, /missing\s+sub\/c\.txt/);
  });

  it('treats a single file as a single-file torrent under its own name', async () => {
    const out = path.join(tmp, 'single.torrent');
    const c = await runCli(['create', path.join(tmp, 'data', 'ds', 'a.bin'), '-o', out, '--json', '--piece-length', '16KiB']);
    assert.equal(c.code, 0, c.stderr);
    const d = json(c.stdout);
    assert.equal(d['name'], 'a.bin');
    assert.deepEqual((d['files'] as Array<{ path: string }>).map((f) => f.path), ['a.bin']);
    const v = await runCli(['verify', out, path.join(tmp, 'data', 'ds')]);
    assert.equal(v.code, 0, v.stdout);
  });

  it('uses --name for the torrent name and the folder verify looks in', async () => {
    const out = path.join(tmp, 'named.torrent');
    const c = await runCli(['create', path.join(tmp, 'data', 'ds'), '-o', out, '--name', 'renamed', '--json']);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(json(c.stdout)['name'], 'renamed');
    const v = await runCli(['verify', out, path.join(tmp, 'data')]);
    assert.equal(v.code, 1);
    assert.match(v.stdout, /missing/);
  });

  it('stores trackers, web seeds, private flag and comment', async () => {
    const out = path.join(tmp, 'meta.torrent');
    const c = await runCli([
      'create', path.join(tmp, 'data', 'ds'), '-o', out, '--tracker', 'http://127.0.0.1:6969/announce', '--tracker', 'udp://127.0.0.1:6969',
      '--webseed', 'http://127.0.0.1:8080/files/', '--private', '--comment', 'hello', '--json',
    ]);
    assert.equal(c.code, 0, c.stderr);
    const d = json(c.stdout);
    assert.deepEqual(d['trackers'], [['http://127.0.0.1:6969/announce'], ['udp://127.0.0.1:6969']]);
    assert.deepEqual(d['webSeeds'], ['http://127.0.0.1:8080/files/']);
    assert.equal(d['private'], true);
    assert.equal(d['comment'], 'hello');
    assert.match(String(d['magnet']), /&tr=http:\/\/127\.0\.0\.1:6969\/announce/);
  });

  it('reads a magnet link', async () => {
    const h1 = 'a'.repeat(40);
    const h2 = 'b'.repeat(64);
    const i = await runCli(['info', `magnet:?xt=urn:btih:${h1}&xt=urn:btmh:1220${h2}&dn=x%20y`, '--json']);
    assert.equal(i.code, 0, i.stderr);
    const d = json(i.stdout);
    assert.equal(d['infoHashV1'], h1);
    assert.equal(d['infoHashV2'], h2);
    assert.equal(d['name'], 'x y');
  });
});

describe('bad input gets one clear line and exit status 2', () => {
  const cases: Array<[string, () => Promise<string[]>, RegExp]> = [
    ['a path that does not exist', async () => ['create', path.join(tmp, 'nope')], /cannot read .*nope/],
    ['two versions at once', async () => ['create', path.join(tmp, 'data'), '--v1', '--v2'], /cannot be used with/],
    ['a piece length that is not a power of two', async () => ['create', path.join(tmp, 'data'), '--piece-length', '20000'], /power of two/],
    ['a piece length that is not a number', async () => ['create', path.join(tmp, 'data'), '--piece-length', 'big'], /not a number of bytes/],
    ['a bad tracker URL', async () => ['create', path.join(tmp, 'data'), '--tracker', 'not a url'], /not a URL/],
    ['a file that is not a torrent', async () => {
      const f = path.join(tmp, 'garbage.torrent');
      await writeFile(f, 'this is not bencode');
      return ['info', f];
    }, /invalid torrent: bencode: unexpected byte .* at byte 0/],
    ['a truncated torrent', async () => {
      const good = await readFile(path.join(tmp, 'ds-hybrid.torrent'));
      const f = path.join(tmp, 'truncated.torrent');
      await writeFile(f, good.subarray(0, good.length - 30));
      return ['info', f];
    }, /invalid torrent: bencode: .* at byte \d+/],
    ['a torrent whose file path climbs out of the folder', async () => {
      const info = new Map<string, unknown>([
        ['files', [new Map<string, unknown>([['length', 1], ['path', ['..', 'escape']]])]],
        ['name', 'x'],
        ['piece length', 16384],
        ['pieces', Buffer.alloc(20)],
      ]);
      const f = path.join(tmp, 'evil.torrent');
      await writeFile(f, bencode(new Map([['info', info]]) as never));
      return ['verify', f, tmp];
    }, /unsafe file path "\.\.": relative path component/],
    ['an unknown command', async () => ['frobnicate'], /unknown command/],
    ['a malformed magnet link', async () => ['info', 'magnet:?xt=urn:btih:123'], /invalid magnet link/],
  ];
  for (const [what, args, pattern] of cases) {
    it(what, async () => {
      const r = await runCli(await args());
      assert.equal(r.code, 2, `exit ${r.code}: ${r.stderr}`);
      const firstLine = r.stderr.trim().split('\n')[0]!;
      assert.match(firstLine, pattern);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      if (!/unknown command/.test(what) && !/two versions/.test(what)) assert.ok(isOneLine(r.stderr), r.stderr);
    });
  }
});

async function runCliCopy(from: string, to: string): Promise<void> {
  const { cp } = await import('node:fs/promises');
  await cp(from, to, { recursive: true });
}
