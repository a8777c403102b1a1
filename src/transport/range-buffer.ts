// A whole range in one Buffer, for callers that want the bytes rather than a sink (tests,
// small reads). Both origin clients (HTTP and S3) share it over their getRangeInto.
export interface RangeIntoSource {
  getRangeInto(url: string, offset: number, length: number, sink: (chunk: Buffer, position: number) => Promise<void> | void, signal?: AbortSignal): Promise<void>;
}

export async function rangeToBuffer(source: RangeIntoSource, url: string, offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
  const piece = Buffer.allocUnsafe(length);
  await source.getRangeInto(url, offset, length, (chunk, position) => void chunk.copy(piece, position - offset), signal);
  return piece;
}
