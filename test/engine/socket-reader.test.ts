import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net, { type AddressInfo, type Socket } from 'node:net';
import { test } from 'node:test';
import { connectSharedBuffer, onBytes } from '../../src/engine/socket-reader.js';

/** A server on 127.0.0.1 that writes `payloads[i]` to the i-th connection, then closes it. */
async function server(payloads: Buffer[]): Promise<{ port: number; close: () => Promise<void> }> {
  let n = 0;
  const srv = net.createServer((s) => {
    s.end(payloads[n++ % payloads.length]);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as AddressInfo).port, close: () => new Promise<void>((r) => srv.close(() => r())) };
}

function connected(s: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
}

test('sockets sharing one read buffer each get exactly their own bytes', async () => {
  const payloads = [randomBytes(3 << 20), randomBytes(2 << 20), randomBytes(5 << 20)];
  const srv = await server(payloads);
  try {
    const got = await Promise.all(
      payloads.map(async () => {
        const s = connectSharedBuffer({ host: '127.0.0.1', port: srv.port });
        await connected(s);
        const hash = createHash('sha256');
        let bytes = 0;
        onBytes(s, (chunk) => {
          hash.update(chunk); // consumed during the call, as the rule says
          bytes += chunk.length;
        });
        await new Promise((r) => s.once('close', r));
        return { bytes, digest: hash.digest('hex') };
      }),
    );
    const want = payloads.map((p) => ({ bytes: p.length, digest: createHash('sha256').update(p).digest('hex') }));
    assert.deepEqual(
      got.map((g) => g.bytes).sort(),
      want.map((w) => w.bytes).sort(),
    );
    assert.deepEqual(
      got.map((g) => g.digest).sort(),
      want.map((w) => w.digest).sort(),
    );
  } finally {
    await srv.close();
  }
});

test('a consumer that pauses hands over to the next one without losing a byte', async () => {
  const payload = randomBytes(1 << 20);
  const srv = await server([payload]);
  try {
    const s = connectSharedBuffer({ host: '127.0.0.1', port: srv.port });
    await connected(s);
    const parts: Buffer[] = [];
    // First consumer: takes 68 bytes (like a handshake), keeps a copy of the rest, pauses.
    await new Promise<void>((resolve) => {
      const seen: Buffer[] = [];
      const stop = onBytes(s, (chunk) => {
        seen.push(Buffer.from(chunk));
        const all = Buffer.concat(seen);
        if (all.length < 68) return;
        s.pause();
        stop();
        parts.push(all);
        resolve();
      });
      s.resume();
    });
    onBytes(s, (chunk) => parts.push(Buffer.from(chunk)));
    s.resume();
    await new Promise((r) => s.once('close', r));
    assert.ok(Buffer.concat(parts).equals(payload));
  } finally {
    await srv.close();
  }
});

test('sockets not made by connectSharedBuffer fall back to data events', async () => {
  const payload = randomBytes(256 << 10);
  const srv = await server([payload]);
  try {
    const s = net.connect({ host: '127.0.0.1', port: srv.port });
    await connected(s);
    const parts: Buffer[] = [];
    const stop = onBytes(s, (chunk) => parts.push(Buffer.from(chunk)));
    await new Promise((r) => s.once('close', r));
    stop();
    assert.ok(Buffer.concat(parts).equals(payload));
    assert.equal(s.listenerCount('data'), 0);
  } finally {
    await srv.close();
  }
});
