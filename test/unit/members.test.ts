import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bencode } from '../../src/codec/bencode.js';
import { MAX_MEMBER_IDS, decodeMembers, encodeMembers } from '../../src/codec/extensions.js';
import { WireError } from '../../src/codec/wire.js';

describe('sb_members codec', () => {
  it('round-trips peer ids, and caps a message at MAX_MEMBER_IDS', () => {
    const ids = Array.from({ length: 3 }, (_, i) => new Uint8Array(20).fill(i + 1));
    assert.deepEqual(decodeMembers(encodeMembers(ids)).map((x) => Buffer.from(x)), ids.map((x) => Buffer.from(x)));
    assert.deepEqual(decodeMembers(encodeMembers([])), []);
    const many = Array.from({ length: MAX_MEMBER_IDS + 5 }, (_, i) => new Uint8Array(20).fill(i % 256));
    assert.equal(decodeMembers(encodeMembers(many)).length, MAX_MEMBER_IDS);
    const longMessage = bencode(new Map([['ids', Buffer.alloc(20 * (MAX_MEMBER_IDS + 50))]]));
    assert.equal(decodeMembers(longMessage).length, MAX_MEMBER_IDS);
  });

  it('rejects malformed payloads with WireError, and ids that are not 20 bytes with RangeError', () => {
    assert.throws(() => decodeMembers(Buffer.from('garbage')), WireError);
    assert.throws(() => decodeMembers(bencode(new Map([['ids', Buffer.alloc(21)]]))), WireError);
    assert.throws(() => decodeMembers(bencode(new Map([['ids', 5]]))), WireError);
    assert.throws(() => decodeMembers(bencode([1, 2])), WireError);
    assert.deepEqual(decodeMembers(bencode(new Map([['other', 1]]))), []);
    assert.throws(() => encodeMembers([new Uint8Array(19)]), RangeError);
  });
});
