// The embedding family's ops.quantized members: packing tables (torch's uint8 tensors of rowwise-quantized rows), unpacking them, lookups.
//
// A packed table is what torch.ops.quantized.embedding_bag_byte_prepack returns: a uint8
// tensor whose rows are [dim x u8][fp32 scale][fp32 bias] (8-bit) or
// [dim/2 bytes, low nibble first][fp16 scale][fp16 bias] (4-bit). Here it is a Uint8Tensor
// (data: Uint8Array, shape); any object with a Uint8Array `data` and a `shape` is accepted.

import { Tensor, checkTensor } from '../tensor';
import * as validate from '../validate';
import { embeddingAddon } from './native';
import { IndexInput, LookupOptions, PackedTable, checkEmbedding, checkLookup, checkTable, lookupPlan } from './plan';

/**
 * A uint8 tensor, as torch's packed embedding tables are: `data` holds the bytes in
 * row-major order, `shape` is [..., rowBytes].
 *
 * @example
 * const packed = ops.quantized.embeddingBagBytePrepack(tensor(w, [1000, 64])); // shape [1000, 72]
 */
export class Uint8Tensor {
  readonly data: Uint8Array;
  readonly shape: readonly number[];
  readonly dtype = 'uint8' as const;

  constructor(data: Uint8Array, shape: readonly number[]) {
    this.data = validate.typedArray(data, 'data', ['Uint8Array']);
    this.shape = validate.shape(shape, 'shape');
    const numel = this.shape.reduce((a, b) => a * b, 1);
    if (this.data.length !== numel) {
      throw validate.invalidRange(`Uint8Array of ${numel} bytes (the product of shape [${this.shape.join(', ')}])`, 'data', data);
    }
    Object.freeze(this);
  }

  numel(): number {
    return this.data.length;
  }

  dim(): number {
    return this.shape.length;
  }

  toString(): string {
    return `tensor(<${this.data.length} bytes>, size=[${this.shape.join(', ')}], dtype=torch.uint8)`;
  }
}

// ---- prepack / unpack -------------------------------------------------------------------------

function checkWeight(value: unknown, parameter: string, minRank: number): Tensor {
  const weight = checkTensor(value, parameter);
  if (weight.dim() < minRank) throw validate.invalidRange(`Tensor of at least ${minRank} dims`, parameter, value);
  return weight;
}

/**
 * torch.ops.quantized.embedding_bag_byte_prepack: each row (the last dim) quantized to 8 bits
 * with its own fp32 scale and bias; shape [..., dim] becomes [..., dim + 8].
 */
export function embeddingBagBytePrepack(weight: Tensor): Uint8Tensor {
  const w = checkWeight(weight, 'weight', 1);
  const dim = w.shape[w.shape.length - 1];
  const rows = dim === 0 ? w.shape.slice(0, -1).reduce((a, b) => a * b, 1) : w.numel() / dim;
  const data = w.contiguous().data.subarray(0, w.numel());
  const packed = embeddingAddon.embeddingBagPrepack(data, rows, dim, 8, false);
  return new Uint8Tensor(packed, [...w.shape.slice(0, -1), dim + 8]);
}

/**
 * torch.ops.quantized.embedding_bag_4bit_prepack: each row quantized to 4 bits, two per byte,
 * with an fp16 scale and bias; [rows, dim] (dim even) becomes [rows, dim / 2 + 4].
 * optimizedQparams picks each row's range by torch's greedy search
 * (choose_qparams_optimized, 200 bins, ratio 0.16) instead of its min and max.
 */
export function embeddingBag4bitPrepack(weight: Tensor, options?: { optimizedQparams?: boolean }): Uint8Tensor {
  const w = checkWeight(weight, 'weight', 2);
  if (w.dim() !== 2) throw validate.invalidRange('2-D Tensor [rows, dim]', 'weight', weight);
  const opts = validate.options(options, 'options', ['optimizedQparams']);
  const optimized = opts.optimizedQparams === undefined ? false : validate.boolean(opts.optimizedQparams, 'optimizedQparams');
  const [rows, dim] = w.shape;
  if (dim % 2 !== 0) throw validate.invalidRange('Tensor with an even number of columns (two 4-bit values per byte)', 'weight', weight);
  const data = w.contiguous().data.subarray(0, w.numel());
  const packed = embeddingAddon.embeddingBagPrepack(data, rows, dim, 4, optimized);
  return new Uint8Tensor(packed, [rows, dim / 2 + 4]);
}

function unpack(packed: unknown, bits: 8 | 4): Tensor {
  if (bits === 8 && typeof packed === 'object' && packed !== null && Array.isArray((packed as PackedTable).shape) && (packed as PackedTable).shape.length > 2) {
    // N-D byte tables: unpack as [prod(leading), rowBytes] and restore the leading dims.
    const t = packed as PackedTable;
    const lead = t.shape.slice(0, -1);
    const flat = checkTable({ data: t.data, shape: [lead.reduce((a, b) => a * b, 1), t.shape[t.shape.length - 1]] }, 'packed', 8);
    const out = embeddingAddon.embeddingBagUnpack(flat.data, flat.rows, flat.rowBytes, 8);
    return new Tensor(out, [...lead, flat.dim]);
  }
  const table = checkTable(packed, 'packed', bits);
  return new Tensor(embeddingAddon.embeddingBagUnpack(table.data, table.rows, table.rowBytes, bits), [table.rows, table.dim]);
}

/** torch.ops.quantized.embedding_bag_byte_unpack: the dequantized table, scale * q + bias in fp32. */
export function embeddingBagByteUnpack(packed: PackedTable): Tensor {
  return unpack(packed, 8);
}

/** torch.ops.quantized.embedding_bag_4bit_unpack: the dequantized table, scale * q + bias in fp32. */
export function embeddingBag4bitUnpack(packed: PackedTable): Tensor {
  return unpack(packed, 4);
}

/**
 * torch.ops.quantized.embedding_bag_byte_rowwise_offsets: sums (or, beyond torch, means and
 * maxima) of bags of rows of an 8-bit packed table; output [bags, dim].
 *
 * @example
 * const y = ops.quantized.embeddingBagByteRowwiseOffsets(packed, new Int32Array([1, 5, 2]), new Int32Array([0, 2]));
 */
export function embeddingBagByteRowwiseOffsets(packed: PackedTable, indices: IndexInput, offsets?: IndexInput | null, options?: LookupOptions): Tensor {
  return lookupPlan(checkLookup(packed, 8, indices, offsets, options)).run();
}

/** torch.ops.quantized.embedding_bag_4bit_rowwise_offsets: embeddingBagByteRowwiseOffsets on a 4-bit table. */
export function embeddingBag4bitRowwiseOffsets(packed: PackedTable, indices: IndexInput, offsets?: IndexInput | null, options?: LookupOptions): Tensor {
  return lookupPlan(checkLookup(packed, 4, indices, offsets, options)).run();
}

/** torch.ops.quantized.embedding_byte: one row per index; output [...indices.shape, dim]. */
export function embeddingByte(packed: PackedTable, indices: IndexInput): Tensor {
  return lookupPlan(checkEmbedding(packed, 8, indices, null)).run();
}

/** torch.ops.quantized.embedding_4bit: embeddingByte on a 4-bit table. */
export function embedding4bit(packed: PackedTable, indices: IndexInput): Tensor {
  return lookupPlan(checkEmbedding(packed, 4, indices, null)).run();
}
