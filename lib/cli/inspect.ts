// `qkernels inspect FILE`: what a PyTorch weights file holds (keys, types, dtypes, shapes, qschemes, scales, bytes), read with the safe loader.

import { statSync } from 'fs';

import { pythonFloatRepr } from '../format';
import { LoadedArchive, loadArchive } from '../io/load';
import type { StateValue } from '../io/state-dict';
import { StoredTensor } from '../io/stored-tensor';
import { QTensor } from '../qtensor';
import { Tensor } from '../tensor';
import type { Command, CommandIO } from './index';

/** One printed line of the inspection: a leaf of the state dict. */
export interface InspectRow {
  readonly key: string;
  readonly type: string;
  readonly dtype: string;
  readonly shape: string;
  readonly qscheme: string;
  readonly qparams: string;
  readonly bytes: number;
}

// A state dict is a tree of Maps and arrays; these bound what a hostile file can make inspect print or walk.
const MAX_ROWS = 100000;
const MAX_DEPTH = 32;

const ELEMENT_BYTES: Readonly<Record<string, number>> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1, quint8: 1, qint8: 1, qint32: 4,
};

function range(values: Float64Array | Float32Array | Int32Array): string {
  if (values.length === 0) return '[]';
  const show = values instanceof Int32Array ? String : pythonFloatRepr;
  let lo = values[0];
  let hi = values[0];
  for (let i = 1; i < values.length; i++) {
    lo = Math.min(lo, values[i]);
    hi = Math.max(hi, values[i]);
  }
  return lo === hi ? show(lo) : `${show(lo)}..${show(hi)}`;
}

/** The value of a one-element tensor as text (int64 exactly, even beyond 2^53; the one element is data[0] whatever the strides). */
function oneValue(value: Tensor | StoredTensor): string {
  if (value instanceof Tensor) return pythonFloatRepr(value.data[0]);
  if (value.dtype === 'int64') return String(value.data[0]);
  const item = value.item();
  return typeof item === 'number' && value.dtype.startsWith('float') || value.dtype === 'bfloat16' ? pythonFloatRepr(item as number) : String(item);
}

function tensorBytes(dtype: string, numel: number): number {
  return dtype === 'quint4x2' ? Math.ceil(numel / 2) : numel * ELEMENT_BYTES[dtype];
}

function scalarSummary(value: StateValue): string {
  if (value === null) return 'None';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

/** The leaves of a state dict in key order, nested tuples and dicts as key[i] / key.name rows. */
export function inspectRows(stateDict: ReadonlyMap<string, StateValue>): { rows: InspectRow[]; truncated: boolean } {
  const rows: InspectRow[] = [];
  let truncated = false;
  const visit = (key: string, value: StateValue, depth: number): void => {
    if (rows.length >= MAX_ROWS) {
      truncated = true;
      return;
    }
    if (value instanceof QTensor) {
      const perTensor = value.qscheme === 'per_tensor_affine';
      const qparams = perTensor
        ? `scale ${pythonFloatRepr(value.qScale())} zero_point ${value.qZeroPoint()}`
        : `axis ${value.qPerChannelAxis()} scales ${range(value.qPerChannelScales())} zero_points ${range(value.qPerChannelZeroPoints())}`;
      rows.push({ key, type: 'QTensor', dtype: value.dtype, shape: `[${value.shape.join(', ')}]`, qscheme: value.qscheme, qparams, bytes: tensorBytes(value.dtype, value.numel()) });
    } else if (value instanceof Tensor || value instanceof StoredTensor) {
      const dtype = value instanceof Tensor ? 'float32' : value.dtype;
      const numel = value.numel();
      // A one-element tensor (scale, zero_point, num_batches_tracked) shows its value.
      const shown = numel === 1 ? `value ${oneValue(value)}` : '';
      rows.push({ key, type: value instanceof Tensor ? 'Tensor' : 'StoredTensor', dtype, shape: `[${value.shape.join(', ')}]`, qscheme: '', qparams: shown, bytes: tensorBytes(dtype, numel) });
    } else if (Array.isArray(value) || value instanceof Map) {
      const items: Array<[string, StateValue]> = Array.isArray(value)
        ? value.map((item, i) => [`${key}[${i}]`, item])
        : Array.from(value, ([name, item]) => [`${key}.${String(name)}`, item]);
      if (depth >= MAX_DEPTH || items.length === 0) {
        rows.push({ key, type: Array.isArray(value) ? 'list' : 'dict', dtype: '', shape: '', qscheme: '', qparams: items.length === 0 ? 'empty' : `${items.length} items (nested too deep to list)`, bytes: 0 });
        return;
      }
      for (const [name, item] of items) visit(name, item, depth + 1);
    } else if (value instanceof Uint8Array) {
      rows.push({ key, type: 'bytes', dtype: '', shape: `[${value.length}]`, qscheme: '', qparams: '', bytes: value.length });
    } else {
      rows.push({ key, type: value === null ? 'None' : typeof value, dtype: '', shape: '', qscheme: '', qparams: scalarSummary(value), bytes: 0 });
    }
  };
  for (const [key, value] of stateDict) visit(key, value, 0);
  return { rows, truncated };
}

function table(rows: readonly InspectRow[]): string[] {
  const header: InspectRow = { key: 'key', type: 'type', dtype: 'dtype', shape: 'shape', qscheme: 'qscheme', qparams: 'qparams / value', bytes: 0 };
  const columns: Array<keyof InspectRow> = ['key', 'type', 'dtype', 'shape', 'qscheme'];
  const widths = columns.map((column) => Math.max(...[header, ...rows].map((row) => String(row[column]).length)));
  const bytesWidth = Math.max(5, ...rows.map((row) => String(row.bytes).length));
  const line = (row: InspectRow, bytes: string): string =>
    `${columns.map((column, i) => String(row[column]).padEnd(widths[i])).join('  ')}  ${bytes.padStart(bytesWidth)}  ${row.qparams}`.trimEnd();
  return [line(header, 'bytes'), ...rows.map((row) => line(row, String(row.bytes)))];
}

/** The inspection report of a loaded archive, as printed lines. */
export function inspectLines(file: string, archive: LoadedArchive, fileBytes: number): string[] {
  const { rows, truncated } = inspectRows(archive.stateDict);
  const tensorBytesTotal = rows.reduce((sum, row) => sum + row.bytes, 0);
  const lines = [`${file}: ${archive.format} archive, ${fileBytes} bytes, ${archive.stateDict.size} keys, ${tensorBytesTotal} bytes of tensor data`, ...table(rows)];
  if (truncated) lines.push(`... (listing stopped after ${MAX_ROWS} rows)`);
  if (archive.attributes.size > 0) {
    lines.push('', 'TorchScript attributes that state_dict() does not save (loadArchive(...).attributes):');
    for (const [key, value] of archive.attributes) lines.push(`  ${key} = ${scalarSummary(value)}`);
  }
  return lines;
}

export const inspectCommand: Command = {
  usage: 'inspect FILE...',
  summary: 'list the keys of PyTorch weight files (torch.save / torch.jit.save): types, dtypes, shapes, qschemes, scales, bytes',
  run(args: readonly string[], io: CommandIO): number {
    if (args.length === 0 || args.some((arg) => arg.startsWith('-'))) {
      io.stderr(`usage: qkernels ${this.usage}`);
      return 2;
    }
    let status = 0;
    for (const file of args) {
      try {
        const archive = loadArchive(file);
        for (const line of inspectLines(file, archive, statSync(file).size)) io.stdout(line);
      } catch (error) {
        io.stderr(`qkernels inspect: ${(error as Error).message}`);
        status = 1;
      }
    }
    return status;
  },
};
