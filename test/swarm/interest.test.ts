/**
 * Interest follows what a peer has that we want (BEP 3): a downloader tells a peer it is no
 * longer interested as soon as it holds every piece that peer has, while it still downloads
 * from others. (A peer that stays "interested" with nothing to ask holds an upload slot of the
 * other side for nothing: in a young swarm that idled most uplinks, see docs/performance.md.)
 *
 * The peers here are raw wire peers written for the test, so the test sees every message.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MessageDecoder, type Message, encodeHandshake, encodeMessage } from '../../src/codec/wire.js';
import { type Metainfo, createTorrent, startDownload } from '../../src/index.js';

const PIECE = 16384;
let tmp: string;
let data: Buffer;
let t: Metainfo;

/** A peer that claims `pieces`, unchokes if `serve`, answers requests for `serve` pieces only, and logs what it receives. */
async function rawPeer(pieces: number[], serve: number[]): Promise<{ port: number; got: string[]; close: () => void }> {
  const got: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    const dec = new MessageDecoder();
    let shaken = false;
    socket.on('data', (chunk) => {
      dec.push(chunk);
      try {
        if (!shaken) {
          const hs = dec.readHandshake();
          if (!hs) return;
          shaken = true;
          socket.write(encodeHandshake({ infoHash: Buffer.from(hs.infoHash), peerId: randomBytes(20), reserved: Buffer.alloc(8) }));
          const bf = Buffer.alloc(Math.ceil(t.numPieces / 8));
          for (const i of pieces) bf[i >> 3]! |= 0x80 >> (i & 7);
          socket.write(encodeMessage({ type: 'bitfield', bitfield: bf }));
          if (serve.length) socket.write(encodeMessage({ type: 'unchoke' }));
        }
        for (let m: Message | null; (m = dec.next()); ) {
          got.push(m.type);
          if (m.type === 'request' && serve.includes(m.index)) {
            const at = m.index * PIECE + m.begin;
            socket.write(encodeMessage({ type: 'piece', index: m.index, begin: m.begin, block: data.subarray(at, at + m.length) }));
          }
        }
      } catch {
        socket.destroy();
      }
    });
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    got,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe('interest', () => {
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'sb-interest-'));
    data = randomBytes(4 * PIECE);
    await mkdir(path.join(tmp, 'src'), { recursive: true });
    await writeFile(path.join(tmp, 'src', 'one.bin'), data);
    t = (await createTorrent(path.join(tmp, 'src', 'one.bin'), { pieceLength: PIECE, version: 'v1', creationDate: null })).metainfo;
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('a downloader sends not-interested to a peer once it has every piece that peer has, and stays interested in the others', async () => {
    assert.equal(t.numPieces, 4);
    const teaser = await rawPeer([0], []); // has piece 0, never unchokes
    const partial = await rawPeer([0, 1], [0]); // has 0 and 1, serves 0 only
    const dl = await startDownload(t, { dataDir: path.join(tmp, 'dl'), port: 0 });
    let done = false;
    void dl.torrent.done.then(() => (done = true), () => {});
    try {
      dl.torrent.addPeer('127.0.0.1', teaser.port, 'manual');
      dl.torrent.addPeer('127.0.0.1', partial.port, 'manual');
      for (let i = 0; i < 200 && !teaser.got.includes('not-interested'); i++) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(teaser.got.filter((m) => m.endsWith('interested')), ['interested', 'not-interested'], `teaser got ${teaser.got.join(',')}`);
      assert.ok(partial.got.includes('interested'));
      assert.ok(!partial.got.includes('not-interested'), 'piece 1 is still wanted from the partial peer');
      assert.equal(done, false, 'the download is not finished (pieces 1-3 are missing)');
    } finally {
      teaser.close();
      partial.close();
      await dl.stop();
    }
  });
});
