/**
 * The shared-buffer HTTP range client against hand-written servers on 127.0.0.1: keep-alive
 * reuse, a head and body cut at awkward places, a connection the server closed while idle,
 * chunked bodies (not ours: HttpRangeUnsupported), a body longer than declared.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net, { type AddressInfo, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { HttpRangeConnection, HttpRangeUnsupported, parseHead, type RangeResponse } from '../../src/engine/http-range.js';

const DATA = randomBytes(300_000);

/** A server that answers each request with `answer(start, end)`, written in pieces of `split` bytes. */
async function server(answer: (start: number, end: number, socket: Socket) => Buffer | null, split = 0) {
  let connections = 0;
  const sockets = new Set<Socket>();
  const srv = net.createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    let buf = '';
    s.on('data', (c) => {
      buf += c.toString('latin1');
      for (let i = buf.indexOf('\r\n\r\n'); i >= 0; i = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, i);
        buf = buf.slice(i + 4);
        const m = /range: bytes=(\d+)-(\d+)/i.exec(head)!;
        const out = answer(Number(m[1]), Number(m[2]), s);
        if (!out) continue;
        if (split > 0) for (let o = 0; o < out.length; o += split) s.write(out.subarray(o, o + split));
        else s.write(out);
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as AddressInfo).port,
    connections: () => connections,
    dropAll: () => sockets.forEach((s) => s.destroy()),
    close: () => new Promise<void>((r) => {
      sockets.forEach((s) => s.destroy());
      srv.close(() => r());
    }),
  };
}

const ranged = (start: number, end: number) =>
  Buffer.concat([Buffer.from(`HTTP/1.1 206 Partial Content\r\nContent-Range: bytes ${start}-${end}/${DATA.length}\r\nContent-Length: ${end - start + 1}\r\n\r\n`, 'latin1'), DATA.subarray(start, end + 1)]);

async function fetchRange(c: HttpRangeConnection, port: number, start: number, length: number): Promise<{ head: RangeResponse; body: Buffer }> {
  const parts: Buffer[] = [];
  let head: RangeResponse | null = null;
  await c.get({
    target: '/x',
    host: `127.0.0.1:${port}`,
    start,
    length,
    userAgent: 'test',
    timeoutMs: 5000,
    onHead: (h) => {
      head = h;
      return true;
    },
    onBody: (chunk) => {
      parts.push(Buffer.from(chunk)); // valid only during the call
      return 0;
    },
  });
  return { head: head!, body: Buffer.concat(parts) };
}

describe('HttpRangeConnection', () => {
  it('gets ranges over one keep-alive connection, whatever the cut of the bytes', async () => {
    for (const split of [0, 1, 7, 4096]) {
      const srv = await server(ranged, split);
      const c = new HttpRangeConnection('127.0.0.1', srv.port);
      try {
        for (const [start, length] of [[0, 1000], [12_345, 100_000], [299_999, 1]] as const) {
          const r = await fetchRange(c, srv.port, start, length);
          assert.equal(r.head.status, 206);
          assert.ok(r.body.equals(DATA.subarray(start, start + length)), `split ${split}, range ${start}+${length}`);
        }
        assert.equal(srv.connections(), 1, 'one connection for all requests');
      } finally {
        c.close();
        await srv.close();
      }
    }
  });

  it('reconnects once when the server closed the idle connection', async () => {
    const srv = await server(ranged);
    const c = new HttpRangeConnection('127.0.0.1', srv.port);
    try {
      await fetchRange(c, srv.port, 0, 10);
      srv.dropAll();
      await new Promise((r) => setTimeout(r, 50));
      const r = await fetchRange(c, srv.port, 10, 10);
      assert.ok(r.body.equals(DATA.subarray(10, 20)));
      assert.equal(srv.connections(), 2);
    } finally {
      c.close();
      await srv.close();
    }
  });

  it('refuses chunked bodies with HttpRangeUnsupported (the caller falls back to node:http)', async () => {
    const srv = await server(() => Buffer.from('HTTP/1.1 206 Partial Content\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'));
    const c = new HttpRangeConnection('127.0.0.1', srv.port);
    try {
      await assert.rejects(fetchRange(c, srv.port, 0, 5), HttpRangeUnsupported);
    } finally {
      c.close();
      await srv.close();
    }
  });

  it('fails on a body longer than declared, and on a body cut short', async () => {
    const long = await server((start, end) => Buffer.concat([ranged(start, end), Buffer.from('junk')]));
    const c1 = new HttpRangeConnection('127.0.0.1', long.port);
    const short = await server((start, end, s) => {
      s.end(ranged(start, end).subarray(0, -5));
      return null;
    });
    const c2 = new HttpRangeConnection('127.0.0.1', short.port);
    try {
      await assert.rejects(fetchRange(c1, long.port, 0, 100), /more bytes/);
      await assert.rejects(fetchRange(c2, short.port, 0, 100), /closed with 5 body bytes/);
    } finally {
      c1.close();
      c2.close();
      await long.close();
      await short.close();
    }
  });

  it('parses status lines and headers, and rejects what is not HTTP/1.x', () => {
    const h = parseHead('HTTP/1.1 302 Found\r\nLocation: /y\r\nX-A: 1\r\nx-a: 2');
    assert.equal(h.status, 302);
    assert.equal(h.headers.get('location'), '/y');
    assert.equal(h.headers.get('x-a'), '1, 2');
    assert.throws(() => parseHead('SSH-2.0-OpenSSH'), /not an HTTP/);
    assert.throws(() => parseHead('HTTP/1.1 200 OK\r\nno colon here'), /bad header/);
  });
});
