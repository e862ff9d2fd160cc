/**
 * The static HTTP origin on 127.0.0.1: whole files and each range form, error statuses, HEAD,
 * keep-alive, path traversal (never a byte from outside the root), the fault hooks (redirects,
 * presigned-URL check, mutate), the shared rate cap's byte accounting, and close() in mid-transfer.
 * No test asserts a duration; the cap's timing is tested on a simulated clock in
 * egress-limiter.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type HttpOrigin, type OriginOptions, startOrigin } from '../../src/origin/http-origin.js';

const LOOPBACK = '127.0.0.1';
/** Upper bound on any single wait in this file. */
const WAIT_MS = 15_000;
const BIG = 2 * 1024 * 1024;

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  reusedSocket: boolean;
}

interface GetOptions {
  method?: string;
  headers?: Record<string, string>;
  agent?: http.Agent | false;
  /** Called with the request once the response starts, to abort or close mid-body. */
  onData?: (req: http.ClientRequest, received: number) => void;
}

/** One request with the path sent exactly as given (no URL normalisation, unlike fetch). */
function request(origin: HttpOrigin, rawPath: string, o: GetOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: LOOPBACK, port: origin.port, path: rawPath, method: o.method ?? 'GET', headers: o.headers, agent: o.agent ?? false, signal: AbortSignal.timeout(WAIT_MS) },
      (res) => {
        const parts: Buffer[] = [];
        let received = 0;
        res.on('data', (b: Buffer) => {
          parts.push(b);
          received += b.length;
          o.onData?.(req, received);
        });
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts), reusedSocket: req.reusedSocket }));
        res.on('error', reject);
        // A body cut short may end with neither 'end' nor 'error'; settle anyway (first settle wins).
        res.on('close', () => reject(new Error(`connection closed after ${received} body bytes`)));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Deterministic bytes, different at every offset mod 251, so a shifted slice is caught. */
function pattern(n: number, seed = 0): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) % 251;
  return b;
}

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const until = Date.now() + WAIT_MS;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

let tmp: string;
let root: string;
const A = pattern(1000, 1);
const B = pattern(300, 2);
const BIG_DATA = pattern(BIG, 3);
const SECRET = Buffer.from('the secret outside the root\n');

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'seedbank-origin-'));
  root = path.join(tmp, 'root');
  await mkdir(path.join(root, 'sub'), { recursive: true });
  await writeFile(path.join(root, 'a.bin'), A);
  await writeFile(path.join(root, 'sub', 'b.bin'), B);
  await writeFile(path.join(root, 'big.bin'), BIG_DATA);
  await writeFile(path.join(root, 'empty.bin'), Buffer.alloc(0));
  await writeFile(path.join(root, 'a b.bin'), B);
  await writeFile(path.join(tmp, 'secret.txt'), SECRET);
  await mkdir(path.join(tmp, 'root2'));
  await writeFile(path.join(tmp, 'root2', 'x.bin'), SECRET);
  await symlink(path.join(tmp, 'secret.txt'), path.join(root, 'out-link'));
  await symlink(path.join(tmp, 'root2'), path.join(root, 'out-dir'));
  await symlink('a.bin', path.join(root, 'in-link'));
  await symlink('sub', path.join(root, 'in-dir'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Starts an origin over the shared root for one test and always closes it. */
async function withOrigin(extra: Partial<OriginOptions>, fn: (o: HttpOrigin) => Promise<void>): Promise<void> {
  const origin = await startOrigin({ root, host: LOOPBACK, ...extra });
  try {
    await fn(origin);
  } finally {
    await origin.close();
  }
}

describe('http origin: files and ranges', () => {
  let origin: HttpOrigin;
  before(async () => {
    origin = await startOrigin({ root, host: LOOPBACK });
  });
  after(() => origin.close());

  it('serves a whole file with 200 and the usual headers', async () => {
    assert.equal(origin.url, `http://${LOOPBACK}:${origin.port}/`);
    const r = await request(origin, '/a.bin');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, A);
    assert.equal(r.headers['content-length'], '1000');
    assert.equal(r.headers['accept-ranges'], 'bytes');
    assert.equal(r.headers['content-type'], 'application/octet-stream');
    assert.ok(r.headers['last-modified']);
    assert.deepEqual((await request(origin, '/sub/b.bin')).body, B);
    assert.deepEqual((await request(origin, '/a%20b.bin')).body, B, 'percent-decoded');
  });

  const ranges: Array<[string, number, number]> = [
    ['bytes=10-19', 10, 19],
    ['bytes=990-', 990, 999],
    ['bytes=-5', 995, 999],
    ['bytes=100-5000', 100, 999],
    ['bytes=0-0', 0, 0],
  ];
  for (const [header, start, end] of ranges) {
    it(`Range: ${header} -> 206 with bytes ${start}-${end}`, async () => {
      const before = origin.stats.rangeRequests;
      const r = await request(origin, '/a.bin', { headers: { Range: header } });
      assert.equal(r.status, 206);
      assert.equal(r.headers['content-range'], `bytes ${start}-${end}/1000`);
      assert.equal(r.headers['content-length'], String(end - start + 1));
      assert.deepEqual(r.body, A.subarray(start, end + 1));
      assert.equal(origin.stats.rangeRequests, before + 1);
    });
  }

  it('several ranges get the whole file with 200', async () => {
    const r = await request(origin, '/a.bin', { headers: { Range: 'bytes=0-1,5-6' } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, A);
  });

  it('an unsatisfiable range is 416 with bytes */size', async () => {
    for (const header of ['bytes=1000-', 'bytes=5000-6000', 'bytes=-0']) {
      const r = await request(origin, '/a.bin', { headers: { Range: header } });
      assert.equal(r.status, 416, header);
      assert.equal(r.headers['content-range'], 'bytes */1000');
      assert.equal(r.body.length, 0);
    }
    const e = await request(origin, '/empty.bin', { headers: { Range: 'bytes=0-' } });
    assert.equal(e.status, 416);
    assert.equal(e.headers['content-range'], 'bytes */0');
    const whole = await request(origin, '/empty.bin');
    assert.equal(whole.status, 200);
    assert.equal(whole.headers['content-length'], '0');
  });

  it('missing files, folders and the root are 404', async () => {
    for (const p of ['/nope.bin', '/sub', '/sub/nope', '/a.bin/x', '/', '/in-dir']) {
      assert.equal((await request(origin, p)).status, 404, p);
    }
  });

  it('methods other than GET and HEAD are 405', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const r = await request(origin, '/a.bin', { method });
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, 'GET, HEAD');
    }
  });

  it('HEAD gives the headers of GET and no body', async () => {
    const r = await request(origin, '/a.bin', { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], '1000');
    assert.equal(r.body.length, 0);
    const p = await request(origin, '/a.bin', { method: 'HEAD', headers: { Range: 'bytes=-10' } });
    assert.equal(p.status, 206);
    assert.equal(p.headers['content-range'], 'bytes 990-999/1000');
    assert.equal(p.body.length, 0);
  });

  it('keeps the connection alive between requests', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await request(origin, '/a.bin', { agent });
      const second = await request(origin, '/sub/b.bin', { agent });
      assert.deepEqual(second.body, B);
      assert.equal(first.reusedSocket, false);
      assert.equal(second.reusedSocket, true);
      assert.match(String(first.headers['keep-alive']), /timeout=(\d+)/);
      assert.ok(Number(/timeout=(\d+)/.exec(String(first.headers['keep-alive']))![1]) >= 30);
    } finally {
      agent.destroy();
    }
  });

  it('never serves a byte from outside the root', async () => {
    const attempts = [
      '/../secret.txt',
      '/sub/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/%2E%2E/secret.txt',
      '/..%2fsecret.txt',
      '/%2e%2e%2fsecret.txt',
      '/sub%2f..%2f..%2fsecret.txt',
      '/..%5csecret.txt',
      '//secret.txt',
      '/./a.bin',
      '/a.bin%00',
      '/%zz',
      '/out-link',
      '/out-dir/x.bin',
      '/../root2/x.bin',
      `/${encodeURIComponent(path.join(tmp, 'secret.txt'))}`,
    ];
    for (const p of attempts) {
      const r = await request(origin, p);
      assert.ok(r.status === 400 || r.status === 404, `${p}: ${r.status}`);
      assert.ok(!r.body.includes(SECRET), p);
    }
  });

  it('follows symlinks that stay inside the root', async () => {
    assert.deepEqual((await request(origin, '/in-link')).body, A);
    assert.deepEqual((await request(origin, '/in-dir/b.bin')).body, B);
  });

  it('counts requests and body bytes per path', async () => {
    const before = { ...origin.stats, byPath: new Map(origin.stats.byPath) };
    await request(origin, '/sub/b.bin');
    await request(origin, '/sub/b.bin', { headers: { Range: 'bytes=0-9' } });
    await request(origin, '/nope');
    await waitFor(() => origin.stats.bytesSent === before.bytesSent + 310, 'bytesSent');
    assert.equal(origin.stats.requests, before.requests + 3);
    assert.equal(origin.stats.byPath.get('/sub/b.bin'), (before.byPath.get('/sub/b.bin') ?? 0) + 310);
  });
});

describe('http origin: fault hooks', () => {
  it('redirects: a followed 302 serves the target; other statuses as given', async () => {
    await withOrigin({ faults: { redirects: { '/alias.bin': '/a.bin', '/moved': { location: '/sub/b.bin', status: 301 }, '/a%20b.bin': '/sub/b.bin' } } }, async (o) => {
      const followed = await fetch(`${o.url}alias.bin`, { signal: AbortSignal.timeout(WAIT_MS) });
      assert.equal(followed.status, 200);
      assert.ok(followed.redirected);
      assert.deepEqual(Buffer.from(await followed.arrayBuffer()), A);
      const raw = await request(o, '/alias.bin?x=1');
      assert.equal(raw.status, 302);
      assert.equal(raw.headers.location, '/a.bin');
      const moved = await request(o, '/moved');
      assert.equal(moved.status, 301);
      assert.equal(moved.headers.location, '/sub/b.bin');
      assert.equal((await request(o, '/a%20b.bin')).status, 302, 'keyed by the path as sent');
    });
  });

  it('requireQuery: 403 without every pair, 200 with them among other parameters', async () => {
    const required = { sig: 'abc', exp: '99' };
    await withOrigin({ faults: { requireQuery: required, redirects: { '/signed': '/a.bin?exp=99&sig=abc' } } }, async (o) => {
      assert.equal((await request(o, '/a.bin')).status, 403);
      assert.equal((await request(o, '/a.bin?sig=abc')).status, 403);
      assert.equal((await request(o, '/a.bin?sig=abd&exp=99')).status, 403);
      const ok = await request(o, '/a.bin?x-amz-date=1&sig=abc&y=2&exp=99');
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.body, A);
      const viaRedirect = await fetch(`${o.url}signed`, { signal: AbortSignal.timeout(WAIT_MS) });
      assert.equal(viaRedirect.status, 200, 'a redirect can hand out the presigned URL');
      assert.deepEqual(Buffer.from(await viaRedirect.arrayBuffer()), A);
    });
  });

  it('mutate changes the byte at the right absolute offset, also across read chunks', async () => {
    const target = 70_000; // in the second 64 KiB chunk of the file
    const calls: Array<[string, number, number]> = [];
    const mutate = (urlPath: string, offset: number, chunk: Buffer) => {
      calls.push([urlPath, offset, chunk.length]);
      if (urlPath === '/big.bin' && target >= offset && target < offset + chunk.length) chunk[target - offset] ^= 0xff;
      return chunk;
    };
    await withOrigin({ faults: { mutate } }, async (o) => {
      const start = 60_000;
      const r = await request(o, '/big.bin', { headers: { Range: `bytes=${start}-79999` } });
      assert.equal(r.status, 206);
      const want = Buffer.from(BIG_DATA.subarray(start, 80_000));
      want[target - start] ^= 0xff;
      assert.deepEqual(r.body, want);
      assert.equal(calls[0]![1], start);
      let next = start;
      for (const [p, offset, n] of calls) {
        assert.equal(p, '/big.bin');
        assert.equal(offset, next, 'offsets are contiguous and absolute');
        next += n;
      }
      assert.equal(next, 80_000);
      const untouched = await request(o, '/a.bin');
      assert.deepEqual(untouched.body, A, 'the mutate hook gets a copy; the file is not changed');
    });
  });

  it('a mutate that changes the length cuts the connection', async () => {
    await withOrigin({ faults: { mutate: (_p, _o, c) => c.subarray(1) } }, async (o) => {
      const r = await request(o, '/a.bin').catch((err: Error) => err);
      assert.ok(r instanceof Error || r.body.length < A.length, 'an error or a short body');
      assert.equal((await request(o, '/empty.bin')).status, 200, 'the origin still serves');
    });
  });
});

describe('http origin: rate cap and closing', () => {
  it('two concurrent downloads under one cap: every byte arrives and is counted once', async () => {
    await withOrigin({ rateBytesPerSec: 4 * 1024 * 1024 }, async (o) => {
      const [x, y] = await Promise.all([request(o, '/big.bin'), request(o, '/big.bin', { headers: { Range: 'bytes=0-' } })]);
      assert.equal(x.status, 200);
      assert.equal(y.status, 206);
      assert.deepEqual(x.body, BIG_DATA);
      assert.deepEqual(y.body, BIG_DATA);
      const received = x.body.length + y.body.length;
      assert.equal(received, 2 * BIG);
      await waitFor(() => o.stats.bytesSent >= received, 'bytesSent to catch up with the client');
      assert.equal(o.stats.bytesSent, received);
      assert.equal(o.stats.byPath.get('/big.bin'), received);
    });
  });

  it('setRate(0) lifts the cap for a download in progress', async () => {
    await withOrigin({ rateBytesPerSec: 64 * 1024 }, async (o) => {
      let lifted = false;
      const r = await request(o, '/big.bin', {
        onData: () => {
          if (!lifted) o.setRate(0);
          lifted = true;
        },
      });
      assert.deepEqual(r.body, BIG_DATA, 'at 64 KiB/s this would outlast the wait bound');
      assert.throws(() => o.setRate(-1), { name: 'UsageError' });
    });
  });

  it('a client that goes away mid-body does not disturb the origin', async () => {
    await withOrigin({ rateBytesPerSec: 256 * 1024 }, async (o) => {
      const cut = await request(o, '/big.bin', { onData: (req) => req.destroy() }).catch((err: Error) => err);
      assert.ok(cut instanceof Error || cut.body.length < BIG);
      const r = await request(o, '/a.bin');
      assert.deepEqual(r.body, A);
      assert.ok(o.stats.bytesSent < BIG + A.length);
    });
  });

  it('close() in mid-transfer resolves and ends the download', async () => {
    const o = await startOrigin({ root, host: LOOPBACK, rateBytesPerSec: 64 * 1024 });
    let closed: Promise<void> | undefined;
    const slow = request(o, '/big.bin', {
      onData: () => {
        closed ??= o.close();
      },
    }).catch((err: Error) => err);
    const outcome = await slow;
    assert.ok(outcome instanceof Error || outcome.body.length < BIG, 'an error or a short body');
    assert.ok(closed, 'the download had started');
    await closed;
    await o.close(); // a second close is harmless
    await assert.rejects(request(o, '/a.bin'), 'no longer listening');
  });

  it('refuses a root that is not a folder', async () => {
    await assert.rejects(startOrigin({ root: path.join(root, 'a.bin') }), { name: 'UsageError' });
    await assert.rejects(startOrigin({ root: path.join(tmp, 'missing') }), { name: 'UsageError' });
    await assert.rejects(startOrigin({ root, rateBytesPerSec: Number.NaN }), { name: 'UsageError' });
  });
});
