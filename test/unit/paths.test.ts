import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_COMPONENT_BYTES, MAX_PATH_BYTES, checkComponent, checkRelativePath, safeJoin } from '../../src/codec/paths.js';
import { UnsafePathError } from '../../src/errors.js';

/** Any Unicode scalar value (no lone surrogates). Cheaper to set up than fast-check's 'binary' unit. */
const codePoint = fc
  .oneof(fc.integer({ min: 0, max: 0xd7ff }), fc.integer({ min: 0xe000, max: 0x10ffff }))
  .map((c) => String.fromCodePoint(c));

const LINUX = { windows: false };
const WINDOWS = { windows: true };
const isUnsafe = (e: unknown) => e instanceof UnsafePathError && e.code === 'UNSAFE_PATH';

const ROOT = path.resolve('/srv/seedbank-root');

const unsafeEverywhere: Array<[string, string]> = [
  ['empty', ''],
  ['dot', '.'],
  ['dot dot', '..'],
  ['slash', 'a/b'],
  ['leading slash', '/etc'],
  ['lone slash', '/'],
  ['backslash', 'a\\b'],
  ['backslash traversal', '..\\..\\x'],
  ['NUL', 'a\0b'],
  ['\\x01', 'a\x01'],
  ['escape \\x1b', '\x1b[31mred'],
  ['DEL \\x7f', 'a\x7f'],
  ['newline', 'a\nb'],
  ['carriage return', 'a\rb'],
  ['tab', 'a\tb'],
  ['256 ASCII bytes', 'a'.repeat(256)],
  ['86 three-byte characters (258 bytes)', '日'.repeat(86)],
  ['64 four-byte characters (256 bytes)', '🙂'.repeat(64)],
];

const unsafeOnWindows: Array<[string, string]> = [
  ['CON', 'CON'],
  ['con', 'con'],
  ['nul.txt', 'nul.txt'],
  ['NUL.tar.gz', 'NUL.tar.gz'],
  ['COM1', 'COM1'],
  ['lpt9.log', 'lpt9.log'],
  ['PRN', 'PRN'],
  ['AUX', 'AUX'],
  ['COM¹', 'COM¹'],
  ['CONIN$', 'CONIN$'],
  ['a:b', 'a:b'],
  ['x?', 'x?'],
  ['a*b', 'a*b'],
  ['a<b', 'a<b'],
  ['a>b', 'a>b'],
  ['a"b', 'a"b'],
  ['a|b', 'a|b'],
  ['trailing.', 'trailing.'],
  ['trailing ', 'trailing '],
];

const safe = ['a', 'file.txt', '.hidden', '..a', 'a..b', 'a b', 'é', '日本語', '🙂', 'a'.repeat(255), '日'.repeat(85), 'CONSOLE', 'com10', 'nul_', 'x.con'];

describe('checkComponent', () => {
  for (const [what, name] of unsafeEverywhere) {
    it(`rejects ${what} with and without Windows rules`, () => {
      assert.throws(() => checkComponent(name, 'file name', LINUX), isUnsafe);
      assert.throws(() => checkComponent(name, 'file name', WINDOWS), isUnsafe);
    });
  }

  for (const [what, name] of unsafeOnWindows) {
    it(`rejects ${JSON.stringify(what)} with Windows rules only`, () => {
      assert.throws(() => checkComponent(name, 'file name', WINDOWS), isUnsafe);
      assert.doesNotThrow(() => checkComponent(name, 'file name', LINUX));
    });
  }

  it('accepts ordinary names under both rule sets', () => {
    for (const name of safe) {
      assert.doesNotThrow(() => checkComponent(name, 'file name', LINUX), name);
      assert.doesNotThrow(() => checkComponent(name, 'file name', WINDOWS), name);
    }
    // Dots alone are names on Linux (only '.' and '..' are special), trailing dots are not on Windows.
    assert.doesNotThrow(() => checkComponent('...', 'file name', LINUX));
    assert.throws(() => checkComponent('...', 'file name', WINDOWS), isUnsafe);
  });

  it('counts the 255-byte limit in UTF-8 bytes', () => {
    assert.equal(Buffer.byteLength('日'.repeat(85)), MAX_COMPONENT_BYTES);
    assert.doesNotThrow(() => checkComponent('日'.repeat(85), 'file name', LINUX));
    assert.throws(() => checkComponent(`${'日'.repeat(85)}a`, 'file name', LINUX), isUnsafe);
  });

  it('names the context and shows the name in one line', () => {
    assert.throws(
      () => checkComponent('\x1b[2J', 'torrent name', LINUX),
      (e: unknown) => isUnsafe(e) && (e as Error).message.includes('torrent name') && !(e as Error).message.includes('\x1b'),
    );
  });

  it('rejects every control character', () => {
    for (let c = 0; c < 0x20; c++) assert.throws(() => checkComponent(`a${String.fromCharCode(c)}b`, 'file name', LINUX), isUnsafe, `0x${c.toString(16)}`);
    assert.throws(() => checkComponent('\x7f', 'file name', LINUX), isUnsafe);
  });
});

describe('checkRelativePath', () => {
  it('rejects an empty path', () => {
    assert.throws(() => checkRelativePath([], 'file path', LINUX), isUnsafe);
  });

  it('rejects a path with any unsafe component', () => {
    for (const [, bad] of unsafeEverywhere) {
      assert.throws(() => checkRelativePath(['ok', bad, 'ok'], 'file path', LINUX), isUnsafe, JSON.stringify(bad));
      assert.throws(() => checkRelativePath([bad], 'file path', WINDOWS), isUnsafe, JSON.stringify(bad));
    }
    for (const [, bad] of unsafeOnWindows) {
      assert.throws(() => checkRelativePath(['dir', bad], 'file path', WINDOWS), isUnsafe, JSON.stringify(bad));
      assert.doesNotThrow(() => checkRelativePath(['dir', bad], 'file path', LINUX), JSON.stringify(bad));
    }
  });

  it('rejects traversal spelled as components', () => {
    assert.throws(() => checkRelativePath(['..', 'etc', 'passwd'], 'file path', LINUX), isUnsafe);
    assert.throws(() => checkRelativePath(['a', '..', '..', 'b'], 'file path', LINUX), isUnsafe);
    assert.throws(() => checkRelativePath(['/etc/passwd'], 'file path', LINUX), isUnsafe);
  });

  it(`limits the whole path to ${MAX_PATH_BYTES} bytes`, () => {
    // Each component counts its bytes plus one separator.
    const comp = 'a'.repeat(255);
    const fits = Array.from({ length: MAX_PATH_BYTES / 256 }, () => comp);
    assert.doesNotThrow(() => checkRelativePath(fits, 'file path', LINUX));
    assert.throws(() => checkRelativePath([...fits, 'b'], 'file path', LINUX), isUnsafe);
  });

  it('accepts ordinary nested paths', () => {
    assert.doesNotThrow(() => checkRelativePath(['data', 'train', 'shard-00001.parquet'], 'file path', WINDOWS));
    assert.doesNotThrow(() => checkRelativePath(['2024-01-01T00:00:00', 'log'], 'file path', LINUX));
  });
});

describe('safeJoin', () => {
  it('joins safe components under the root', () => {
    assert.equal(safeJoin(ROOT, ['a', 'b.txt']), path.join(ROOT, 'a', 'b.txt'));
    assert.equal(safeJoin(`${ROOT}${path.sep}`, ['x']), path.join(ROOT, 'x'));
  });

  for (const components of [[], [''], ['.'], ['..'], ['..', 'etc', 'passwd'], ['a', '..', '..'], ['/etc/passwd'], ['a/../../b'], ['..\\x'], ['a\0'], ['a', '']]) {
    it(`rejects ${JSON.stringify(components)}`, () => {
      assert.throws(() => safeJoin(ROOT, components), isUnsafe);
    });
  }

  it('never returns a path outside the root', () => {
    const nasty = fc.constantFrom('..', '.', '', '/', '\\', '../', '/..', 'a/..', '..\\', '\0', '~', 'C:', 'c:\\', '\x1b', '..foo', 'foo..');
    const component = fc.oneof(nasty, fc.string({ maxLength: 8 }), fc.string({ unit: codePoint, maxLength: 8 }));
    fc.assert(
      fc.property(fc.array(component, { maxLength: 5 }), (components) => {
        let out: string;
        try {
          out = safeJoin(ROOT, components);
        } catch (e) {
          assert.ok(isUnsafe(e), `unexpected ${String(e)}`);
          return;
        }
        assert.ok(out.startsWith(ROOT + path.sep), out);
        assert.equal(path.relative(ROOT, out).split(path.sep).length, components.length);
      }),
      { numRuns: 500 },
    );
  });
});

describe('regressions', () => {
  it('safeJoin accepts legal names that start with two dots', () => {
    assert.equal(safeJoin('/srv/r', ['..data', 'x']), path.join('/srv/r', '..data', 'x'));
    assert.equal(safeJoin('/srv/r', ['...']), path.join('/srv/r', '...'));
  });
});
