// A reader of the zip archives torch.save and torch.jit.save write: the central directory, and each entry as a view over the file's bytes.
//
// Why not an npm zip library: the maintained ones (yauzl, adm-zip, fflate, unzipit) either
// stream entries through copies (yauzl, unzipit), inflate or copy and CRC every entry in JS
// (adm-zip, fflate), and none hands back a view of a stored entry at its offset in the
// caller's buffer, which is what zero-copy tensors need. PyTorch's writer is simple: entries
// stored (method 0) and 64-byte aligned, zip64 records for large archives; TorchScript code
// entries are deflated, and zlib (node's own) inflates those.

import { inflateRawSync } from 'zlib';

import { Where, loadError } from './errors';

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;

const utf8Decoder = new TextDecoder('utf-8');

/**
 * `length` bytes at `start` as UTF-8 text; pure ASCII (every name and key PyTorch writes)
 * without a decoder call, which costs more than the copy for short strings.
 */
export function decodeText(bytes: Uint8Array, start: number, length: number): string {
  if (length <= 64) {
    const end = start + length;
    for (let i = start; i < end; i++) if (bytes[i] >= 0x80) return utf8Decoder.decode(bytes.subarray(start, end));
    return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
  }
  return utf8Decoder.decode(bytes.subarray(start, start + length));
}

/** One member of the archive: where its bytes lie in the file. */
export interface ZipEntry {
  readonly name: string;
  /** 0 stored, 8 deflated. */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  /** Offset of the entry's bytes in the file (after its local header). */
  readonly dataOffset: number;
}

/** True when `bytes` starts like a zip archive (a local header or an empty archive's end record). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const signature = bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24);
  return signature === LOCAL_SIGNATURE || signature === EOCD_SIGNATURE;
}

/** Reads little-endian integers with bounds checks that throw LoadErrors instead of RangeErrors. */
class Cursor {
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly where: Where,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private need(offset: number, length: number, what: string): void {
    if (!(offset >= 0 && offset + length <= this.bytes.length)) {
      throw loadError(this.where, `truncated or corrupted zip archive: ${what} at byte ${offset} lies past the end of the file (${this.bytes.length} bytes)`);
    }
  }

  u16(offset: number, what: string): number {
    this.need(offset, 2, what);
    return this.view.getUint16(offset, true);
  }

  u32(offset: number, what: string): number {
    this.need(offset, 4, what);
    return this.view.getUint32(offset, true);
  }

  u64(offset: number, what: string): number {
    this.need(offset, 8, what);
    const value = this.view.getBigUint64(offset, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw loadError(this.where, `corrupted zip archive: ${what} ${value} is beyond any file size`);
    return Number(value);
  }

}

/** The members of a zip archive held in `bytes`, by name, in central-directory order. */
export class ZipArchive {
  readonly entries: ReadonlyMap<string, ZipEntry>;

  readonly bytes: Uint8Array;

  constructor(
    bytes: Uint8Array,
    private readonly file: string,
  ) {
    // A plain Uint8Array over the same memory: Buffer's subarray is slower and its slice is a view.
    this.bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.entries = readCentralDirectory(this.bytes, { file });
  }

  /** The entry's bytes: a view over the file for stored entries, an inflated copy for deflated ones. */
  read(name: string): Uint8Array {
    const entry = this.entries.get(name);
    const where = { file: this.file, entry: name };
    if (entry === undefined) throw loadError(where, 'missing archive entry');
    const end = entry.dataOffset + entry.compressedSize;
    if (end > this.bytes.length) {
      throw loadError(where, `truncated archive: the entry's ${entry.compressedSize} bytes at offset ${entry.dataOffset} run past the end of the file (${this.bytes.length} bytes)`);
    }
    const raw = this.bytes.subarray(entry.dataOffset, end);
    if (entry.method === 0) {
      if (entry.size !== entry.compressedSize) throw loadError(where, `corrupted zip archive: stored entry with size ${entry.size} but ${entry.compressedSize} stored bytes`);
      return raw;
    }
    if (entry.method !== 8) throw loadError(where, `unsupported zip compression method ${entry.method} (PyTorch writes 0, stored, or 8, deflate)`);
    let inflated: Buffer;
    try {
      // maxOutputLength bounds a zip bomb to the size the directory declares.
      inflated = inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.size) });
    } catch (error) {
      throw loadError(where, `corrupted deflated entry: ${(error as Error).message}`);
    }
    if (inflated.length !== entry.size) throw loadError(where, `corrupted deflated entry: inflates to ${inflated.length} bytes, the directory says ${entry.size}`);
    return inflated;
  }
}

/** Finds the end-of-central-directory record (zip64 when present) and reads every entry header. */
function readCentralDirectory(bytes: Uint8Array, where: Where): Map<string, ZipEntry> {
  const cursor = new Cursor(bytes, where);
  const eocd = findEndRecord(bytes, where);
  let count = cursor.u16(eocd + 10, 'entry count');
  let directorySize = cursor.u32(eocd + 12, 'central directory size');
  let directoryOffset = cursor.u32(eocd + 16, 'central directory offset');
  // zip64: the 32-bit fields saturate and a locator just before the record points at the real ones.
  if (eocd >= 20 && cursor.u32(eocd - 20, 'zip64 locator') === ZIP64_LOCATOR_SIGNATURE) {
    const record = cursor.u64(eocd - 12, 'zip64 end record offset');
    if (cursor.u32(record, 'zip64 end record') !== ZIP64_EOCD_SIGNATURE) throw loadError(where, 'corrupted zip archive: bad zip64 end record signature');
    count = cursor.u64(record + 32, 'zip64 entry count');
    directorySize = cursor.u64(record + 40, 'zip64 central directory size');
    directoryOffset = cursor.u64(record + 48, 'zip64 central directory offset');
  }
  if (directoryOffset + directorySize > bytes.length) {
    throw loadError(where, `truncated zip archive: the central directory (${directorySize} bytes at ${directoryOffset}) runs past the end of the file (${bytes.length} bytes)`);
  }
  // Each central header takes at least 46 bytes: a count the directory cannot hold is corruption, not a loop to run.
  if (count * 46 > directorySize) throw loadError(where, `corrupted zip archive: ${count} entries cannot fit a ${directorySize}-byte central directory`);
  const entries = new Map<string, ZipEntry>();
  let offset = directoryOffset;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const directoryEnd = directoryOffset + directorySize;
  for (let i = 0; i < count; i++) {
    // One bounds check per record, then plain DataView reads: archives have thousands of entries.
    if (offset + 46 > directoryEnd || view.getUint32(offset, true) !== CENTRAL_SIGNATURE) throw loadError(where, `corrupted zip archive: bad central directory header ${i} at byte ${offset}`);
    const flags = view.getUint16(offset + 8, true);
    if (flags & 1) throw loadError(where, 'encrypted zip entries are not supported');
    const method = view.getUint16(offset + 10, true);
    let compressedSize = view.getUint32(offset + 20, true);
    let size = view.getUint32(offset + 24, true);
    const nameLength = view.getUint16(offset + 28, true);
    const extraLength = view.getUint16(offset + 30, true);
    const commentLength = view.getUint16(offset + 32, true);
    let localOffset = view.getUint32(offset + 42, true);
    const recordEnd = offset + 46 + nameLength + extraLength + commentLength;
    if (recordEnd > directoryEnd) throw loadError(where, `corrupted zip archive: central directory record ${i} runs past the directory`);
    const name = decodeText(bytes, offset + 46, nameLength);
    // The zip64 extra field holds, in order, whichever of these three saturated at 0xffffffff.
    if (size === 0xffffffff || compressedSize === 0xffffffff || localOffset === 0xffffffff) {
      let extra = offset + 46 + nameLength;
      const extraEnd = extra + extraLength;
      while (extra + 4 <= extraEnd) {
        const id = cursor.u16(extra, 'extra field id');
        const length = cursor.u16(extra + 2, 'extra field length');
        if (id === 1) {
          let field = extra + 4;
          if (size === 0xffffffff) { size = cursor.u64(field, 'zip64 size'); field += 8; }
          if (compressedSize === 0xffffffff) { compressedSize = cursor.u64(field, 'zip64 compressed size'); field += 8; }
          if (localOffset === 0xffffffff) { localOffset = cursor.u64(field, 'zip64 local header offset'); }
        }
        extra += 4 + length;
      }
    }
    if (cursor.u32(localOffset, `local header of ${name}`) !== LOCAL_SIGNATURE) throw loadError({ ...where, entry: name }, `corrupted zip archive: bad local header at byte ${localOffset}`);
    const dataOffset = localOffset + 30 + cursor.u16(localOffset + 26, 'local name length') + cursor.u16(localOffset + 28, 'local extra length');
    entries.set(name, { name, method, compressedSize, size, dataOffset });
    offset = recordEnd;
  }
  return entries;
}

/** The offset of the end-of-central-directory record: scanned backwards over the largest possible comment. */
function findEndRecord(bytes: Uint8Array, where: Where): number {
  const lowest = Math.max(0, bytes.length - EOCD_SIZE - MAX_COMMENT);
  for (let offset = bytes.length - EOCD_SIZE; offset >= lowest; offset--) {
    if (bytes[offset] === 0x50 && bytes[offset + 1] === 0x4b && bytes[offset + 2] === 0x05 && bytes[offset + 3] === 0x06) return offset;
  }
  throw loadError(where, 'truncated or corrupted zip archive: no end of central directory record');
}
