/**
 * A fixed-size set of piece indices, stored as the wire protocol's bitfield (BEP 3: the high bit of
 * byte 0 is piece 0; spare bits at the end must be zero). Pure.
 */
export class Bitfield {
  readonly bytes: Uint8Array;
  private setCount = 0;

  constructor(
    readonly size: number,
    bytes?: Uint8Array,
  ) {
    const n = Math.ceil(size / 8);
    if (bytes) {
      if (bytes.length !== n) throw new RangeError(`bitfield of ${bytes.length} bytes for ${size} pieces`);
      this.bytes = Uint8Array.from(bytes);
      const spare = n * 8 - size;
      if (spare > 0 && (this.bytes[n - 1]! & ((1 << spare) - 1)) !== 0) throw new RangeError('bitfield has spare bits set');
      for (const b of this.bytes) this.setCount += popcount(b);
    } else {
      this.bytes = new Uint8Array(n);
    }
  }

  static full(size: number): Bitfield {
    const b = new Bitfield(size);
    for (let i = 0; i < size; i++) b.set(i);
    return b;
  }

  has(i: number): boolean {
    return (this.bytes[i >> 3]! & (0x80 >> (i & 7))) !== 0;
  }

  set(i: number): void {
    if (i < 0 || i >= this.size) throw new RangeError(`piece ${i} out of range`);
    const mask = 0x80 >> (i & 7);
    if ((this.bytes[i >> 3]! & mask) === 0) {
      this.bytes[i >> 3]! |= mask;
      this.setCount++;
    }
  }

  clear(i: number): void {
    const mask = 0x80 >> (i & 7);
    if ((this.bytes[i >> 3]! & mask) !== 0) {
      this.bytes[i >> 3]! &= ~mask;
      this.setCount--;
    }
  }

  /** Number of pieces in the set. */
  get count(): number {
    return this.setCount;
  }

  get complete(): boolean {
    return this.setCount === this.size;
  }

  *indices(): IterableIterator<number> {
    for (let i = 0; i < this.size; i++) if (this.has(i)) yield i;
  }
}

function popcount(b: number): number {
  let n = 0;
  for (let x = b; x; x &= x - 1) n++;
  return n;
}
