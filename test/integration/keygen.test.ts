import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeKeyFile, publicKeyFromSeed } from '../../src/codec/bep44.js';
import { isOneLine, runCli } from '../helpers/cli.js';

let tmp: string;

describe('seedbank keygen', () => {
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'sb-keygen-'));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('writes a key file with mode 0600 that holds a matching ed25519 key pair, and prints its public key', async () => {
    const file = path.join(tmp, 'name.key');
    const r = await runCli(['keygen', '-o', file, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { file: string; publicKey: string; name: string };
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const keys = decodeKeyFile(await readFile(file, 'utf8'));
    assert.equal(keys.publicKey.toString('hex'), out.publicKey);
    assert.deepEqual(publicKeyFromSeed(keys.seed), keys.publicKey);
    assert.equal(out.name, `magnet:?xs=urn:btpk:${out.publicKey}`);
    // A second key is a different key.
    const other = path.join(tmp, 'other.key');
    assert.equal((await runCli(['keygen', '-o', other])).code, 0);
    assert.notEqual(decodeKeyFile(await readFile(other, 'utf8')).publicKey.toString('hex'), out.publicKey);
  });

  it('never overwrites a key without --force; with --force the file is replaced and made 0600', async () => {
    const file = path.join(tmp, 'keep.key');
    await writeFile(file, 'precious', { mode: 0o644 });
    const r = await runCli(['keygen', '-o', file]);
    assert.equal(r.code, 2);
    assert.ok(isOneLine(r.stderr) && /exists/.test(r.stderr), r.stderr);
    assert.equal(await readFile(file, 'utf8'), 'precious');
    assert.equal((await runCli(['keygen', '-o', file, '--force'])).code, 0);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    decodeKeyFile(await readFile(file, 'utf8'));
  });

  it('bad usage is one line and exit 2: no -o, or a folder that does not exist', async () => {
    const none = await runCli(['keygen']);
    assert.equal(none.code, 2);
    assert.ok(isOneLine(none.stderr), none.stderr);
    const missing = await runCli(['keygen', '-o', path.join(tmp, 'no', 'such', 'dir', 'k.key')]);
    assert.equal(missing.code, 2);
    assert.ok(isOneLine(missing.stderr), missing.stderr);
  });
});
