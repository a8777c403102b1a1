// SipHash-2-4 (Aumasson & Bernstein) producing a u64 as a BigInt. The Rust dfdaemon's
// hash ring hashes with `siphasher::sip::SipHasher::new()`, i.e. SipHash-2-4 with both
// keys 0 (../shared/reference/dragonfly-client.md §7), so ring positions are only
// reproducible with this exact function over the exact bytes Rust's `Hash` writes.
// BigInt keeps the u64 arithmetic exact; every intermediate is masked to 64 bits.

const MASK_64 = (1n << 64n) - 1n;

function rotateLeft(x: bigint, bits: bigint): bigint {
  return ((x << bits) | (x >> (64n - bits))) & MASK_64;
}

/** The four-word SipHash state; rounds mutate it in place. */
interface SipState {
  v0: bigint;
  v1: bigint;
  v2: bigint;
  v3: bigint;
}

function sipRound(s: SipState): void {
  s.v0 = (s.v0 + s.v1) & MASK_64;
  s.v1 = rotateLeft(s.v1, 13n) ^ s.v0;
  s.v0 = rotateLeft(s.v0, 32n);
  s.v2 = (s.v2 + s.v3) & MASK_64;
  s.v3 = rotateLeft(s.v3, 16n) ^ s.v2;
  s.v0 = (s.v0 + s.v3) & MASK_64;
  s.v3 = rotateLeft(s.v3, 21n) ^ s.v0;
  s.v2 = (s.v2 + s.v1) & MASK_64;
  s.v1 = rotateLeft(s.v1, 17n) ^ s.v2;
  s.v2 = rotateLeft(s.v2, 32n);
}

function compress(s: SipState, m: bigint): void {
  s.v3 ^= m;
  sipRound(s);
  sipRound(s);
  s.v0 ^= m;
}

/**
 * SipHash-2-4 of `message` under the 128-bit key (k0, k1), each a u64.
 * Rust's `SipHasher::new()` is k0 = k1 = 0, the default here.
 */
export function sipHash24(message: Uint8Array, k0 = 0n, k1 = 0n): bigint {
  const s: SipState = {
    v0: k0 ^ 0x736f6d6570736575n,
    v1: k1 ^ 0x646f72616e646f6dn,
    v2: k0 ^ 0x6c7967656e657261n,
    v3: k1 ^ 0x7465646279746573n,
  };
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const fullBlocksEnd = message.length - (message.length % 8);
  for (let i = 0; i < fullBlocksEnd; i += 8) compress(s, view.getBigUint64(i, true));

  // Last block: the remaining 0–7 bytes little-endian, with the message length
  // (mod 256) in the top byte.
  let last = BigInt(message.length & 0xff) << 56n;
  for (let i = fullBlocksEnd; i < message.length; i++) {
    last |= BigInt(message[i] as number) << BigInt(8 * (i - fullBlocksEnd));
  }
  compress(s, last);

  s.v2 ^= 0xffn;
  sipRound(s);
  sipRound(s);
  sipRound(s);
  sipRound(s);
  return (s.v0 ^ s.v1 ^ s.v2 ^ s.v3) & MASK_64;
}
