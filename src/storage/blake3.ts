// blake3 through hash-wasm (WebAssembly): the native @napi-rs/blake-hash publishes
// optional platform packages at versions that do not exist, which breaks `npm ci`.
// Its own module so that digest.ts can import it only when a blake3 digest is asked for:
// hash-wasm carries every algorithm's WebAssembly inline (~270 KB of source to compile).
import { createBLAKE3, type IHasher } from "hash-wasm";

export type { IHasher };

export function createBlake3Hash(): Promise<IHasher> {
  return createBLAKE3();
}
