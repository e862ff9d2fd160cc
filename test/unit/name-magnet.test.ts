import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetainfoError } from '../../src/errors.js';
import { formatNameMagnet, isNameMagnet, parseNameMagnet } from '../../src/codec/name-magnet.js';

describe('name magnet links (BEP 46)', () => {
  const pk = Buffer.alloc(32, 0xab);
  it('round-trips key and salt, and tells name magnets from info-hash magnets', () => {
    for (const salt of [Buffer.alloc(0), Buffer.from('imagenet'), Buffer.alloc(64, 7)]) {
      const uri = formatNameMagnet({ publicKey: pk, salt });
      assert.ok(isNameMagnet(uri));
      assert.deepEqual(parseNameMagnet(uri), { publicKey: pk, salt });
    }
    assert.equal(isNameMagnet('magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567'), false);
    assert.ok(isNameMagnet(`magnet:?xs=urn%3Abtpk%3A${pk.toString('hex')}`));
    assert.deepEqual(parseNameMagnet(`magnet:?xs=urn%3Abtpk%3A${pk.toString('hex')}&s=6162`).salt, Buffer.from('ab'));
  });

  it('refuses bad keys and salts with MetainfoError', () => {
    for (const bad of [`magnet:?xs=urn:btpk:${'ab'.repeat(31)}`, `magnet:?xs=urn:btpk:${'zz'.repeat(32)}`, `magnet:?xs=urn:btpk:${pk.toString('hex')}&s=abc`, `magnet:?xs=urn:btpk:${pk.toString('hex')}&s=${'00'.repeat(65)}`, 'magnet:?s=00', 'http://x']) {
      assert.throws(() => parseNameMagnet(bad), MetainfoError, bad);
    }
  });
});
