// Writes small stored (uncompressed) zip archives for the loader's tests: hand-made pickles and storages, packed as torch.save packs them.

/**
 * A zip archive of `entries` (name, bytes), stored, each entry's data 64-byte aligned like
 * PyTorch's writer. `zip64` writes what a writer does past 4 GiB: saturated 32-bit sizes and
 * offsets with the real ones in zip64 extra fields, and the zip64 end record and locator.
 */
export function makeZip(entries: ReadonlyArray<readonly [string, Uint8Array]>, { zip64 = false } = {}): Buffer {
  const chunks: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const nameBytes = Buffer.from(name, 'utf8');
    // Pad the local extra field so the data starts on a 64-byte boundary.
    const headerEnd = offset + 30 + nameBytes.length + 4;
    const padding = (64 - (headerEnd % 64)) % 64;
    const extra = Buffer.alloc(4 + padding);
    extra.writeUInt16LE(0xcafe, 0);
    extra.writeUInt16LE(padding, 2);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(extra.length, 28);
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(zip64 ? 45 : 20, 4);
    header.writeUInt16LE(zip64 ? 45 : 20, 6);
    header.writeUInt32LE(zip64 ? 0xffffffff : data.length, 20);
    header.writeUInt32LE(zip64 ? 0xffffffff : data.length, 24);
    header.writeUInt16LE(nameBytes.length, 28);
    header.writeUInt32LE(zip64 ? 0xffffffff : offset, 42);
    // zip64 extra field: size, compressed size, local header offset (the order the format fixes).
    const centralExtra = Buffer.alloc(zip64 ? 28 : 0);
    if (zip64) {
      centralExtra.writeUInt16LE(1, 0);
      centralExtra.writeUInt16LE(24, 2);
      centralExtra.writeBigUInt64LE(BigInt(data.length), 4);
      centralExtra.writeBigUInt64LE(BigInt(data.length), 12);
      centralExtra.writeBigUInt64LE(BigInt(offset), 20);
      header.writeUInt16LE(centralExtra.length, 30);
    }
    central.push(header, nameBytes, centralExtra);
    chunks.push(local, nameBytes, extra, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    offset += local.length + nameBytes.length + extra.length + data.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(zip64 ? 0xffff : entries.length, 8);
  end.writeUInt16LE(zip64 ? 0xffff : entries.length, 10);
  end.writeUInt32LE(zip64 ? 0xffffffff : directory.length, 12);
  end.writeUInt32LE(zip64 ? 0xffffffff : offset, 16);
  if (!zip64) return Buffer.concat([...chunks, directory, end]);
  const record = Buffer.alloc(56);
  record.writeUInt32LE(0x06064b50, 0);
  record.writeBigUInt64LE(44n, 4);
  record.writeUInt16LE(45, 12);
  record.writeUInt16LE(45, 14);
  record.writeBigUInt64LE(BigInt(entries.length), 24);
  record.writeBigUInt64LE(BigInt(entries.length), 32);
  record.writeBigUInt64LE(BigInt(directory.length), 40);
  record.writeBigUInt64LE(BigInt(offset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(offset + directory.length), 8);
  locator.writeUInt32LE(1, 16);
  return Buffer.concat([...chunks, directory, record, locator, end]);
}

/** A torch.save-shaped archive around a pickle (archive/data.pkl) and storages (archive/data/<key>). */
export function makeTorchArchive(pickle: Uint8Array, storages: Record<string, Uint8Array> = {}, options: { zip64?: boolean } = {}): Buffer {
  return makeZip(
    [
      ['archive/data.pkl', pickle],
      ...Object.entries(storages).map(([key, bytes]) => [`archive/data/${key}`, bytes] as const),
      ['archive/version', Buffer.from('3\n')],
    ],
    options,
  );
}

/** Builds pickle bytes from opcodes and operands: p.op(0x80, 2).text('...'). */
export class PickleBuilder {
  private readonly parts: number[] = [];

  /** An opcode followed by raw operand bytes. */
  op(code: number, ...bytes: number[]): this {
    this.parts.push(code, ...bytes);
    return this;
  }

  u32(value: number): this {
    this.parts.push(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff);
    return this;
  }

  /** BINUNICODE of a string. */
  unicode(text: string): this {
    const bytes = Buffer.from(text, 'utf8');
    this.op(0x58).u32(bytes.length);
    this.parts.push(...bytes);
    return this;
  }

  /** GLOBAL module\nname\n. */
  global(module: string, name: string): this {
    this.parts.push(0x63, ...Buffer.from(`${module}\n${name}\n`, 'utf8'));
    return this;
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}
