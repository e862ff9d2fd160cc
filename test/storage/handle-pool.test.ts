import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HandlePool, type OpenFile, type StorageFile } from '../../src/storage/handle-pool.js';

/** An opener of fake files that records which are open. */
function fakeFs(): { open: OpenFile; isOpen: Set<string>; opened: string[] } {
  const isOpen = new Set<string>();
  const opened: string[] = [];
  const open: OpenFile = async (path) => {
    await Promise.resolve();
    if (path.startsWith('missing')) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    isOpen.add(path);
    opened.push(path);
    const file: StorageFile = {
      read: () => Promise.resolve({ bytesRead: 0 }),
      write: () => Promise.resolve({ bytesWritten: 0 }),
      sync: () => Promise.resolve(),
      close: () => {
        isOpen.delete(path);
        return Promise.resolve();
      },
    };
    return file;
  };
  return { open, isOpen, opened };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('HandlePool', () => {
  it('evicts the least recently used idle handle, never one in use', async () => {
    const fs = fakeFs();
    const pool = new HandlePool(2, fs.open);
    const a = await pool.acquire('a', false, 0);
    const b = await pool.acquire('b', false, 0);
    pool.release(b);
    const c = await pool.acquire('c', false, 0); // a is older but in use: b goes
    assert.deepEqual([...fs.isOpen].sort(), ['a', 'c']);
    pool.release(a);
    pool.release(c);
    const a2 = await pool.acquire('a', false, 0); // still open: shared, not reopened
    assert.equal(fs.opened.filter((p) => p === 'a').length, 1);
    pool.release(a2);
    assert.equal(pool.peakOpen, 2);
  });

  it('waits when every handle is in use, and goes on when one is returned', async () => {
    const fs = fakeFs();
    const pool = new HandlePool(2, fs.open);
    const a = await pool.acquire('a', false, 0);
    const b = await pool.acquire('b', false, 0);
    let got = false;
    const c = pool.acquire('c', false, 0).then((l) => ((got = true), l));
    await tick();
    assert.equal(got, false);
    assert.deepEqual([...fs.isOpen].sort(), ['a', 'b']);
    pool.release(b);
    pool.release(await c);
    assert.deepEqual([...fs.isOpen].sort(), ['a', 'c']);
    // Many waiters, one slot: all get served, none overlaps.
    const waiters = Array.from({ length: 50 }, (_, i) =>
      pool.acquire(`w${i}`, false, 0).then(async (l) => {
        assert.ok(fs.isOpen.size <= 2);
        await tick();
        pool.release(l);
      }),
    );
    await tick();
    pool.release(a);
    await Promise.all(waiters);
    assert.equal(pool.peakOpen, 2);
  });

  it('a read-only handle in use stays open until its reads are done, while a writable one replaces it', async () => {
    const fs = fakeFs();
    const pool = new HandlePool(3, fs.open);
    const r = await pool.acquire('f', false, 0);
    const w = await pool.acquire('f', true, 1);
    assert.notEqual(r.file, w.file);
    assert.equal(w.writable, true);
    assert.equal(pool.open, 2);
    const r2 = await pool.acquire('f', false, 0); // shares the writable one
    assert.equal(r2.file, w.file);
    pool.release(r);
    await tick();
    assert.equal(pool.open, 1, 'the retired read-only handle closed once returned');
    pool.release(w);
    pool.release(r2);
    assert.throws(() => pool.release(r2), /twice/);
  });

  it('a failed open frees its slot and reaches every operation waiting on it', async () => {
    const fs = fakeFs();
    const pool = new HandlePool(1, fs.open);
    const both = await Promise.allSettled([pool.acquire('missing', false, 0), pool.acquire('missing', false, 0)]);
    assert.ok(both.every((x) => x.status === 'rejected'));
    assert.equal(pool.open, 0);
    const ok = await pool.acquire('x', false, 0);
    pool.release(ok);
  });

  it('reserve counts against the limit', async () => {
    const fs = fakeFs();
    const pool = new HandlePool(1, fs.open);
    const free = await pool.reserve();
    let got = false;
    const a = pool.acquire('a', false, 0).then((l) => ((got = true), l));
    await tick();
    assert.equal(got, false);
    free();
    free(); // idempotent
    pool.release(await a);
    assert.equal(pool.peakOpen, 1);
    await pool.closeIdle();
    assert.equal(pool.open, 0);
  });
});
