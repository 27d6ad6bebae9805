// load() and loadAsync(): PyTorch weight files (torch.save zip archives and torch.jit.save TorchScript archives) as state dicts, like torch.load.

import { readFileSync, promises as fsPromises } from 'fs';
import { endianness } from 'os';

import * as validate from '../validate';
import { LoadError, Where, loadError } from './errors';
import { unpickle } from './pickle';
import type { StateDict, StateValue } from './state-dict';
import { ScriptObject, torchEnvironment } from './torch-pickle';
import { parseScriptClasses, scriptStateDict } from './torchscript';
import { ZipArchive, looksLikeZip } from './zip';

/** What a weights file holds, with what load() leaves out. */
export interface LoadedArchive {
  /** 'torch.save' (a pickled object, usually a state dict) or 'torchscript' (torch.jit.save of a scripted module). */
  readonly format: 'torch.save' | 'torchscript';
  /** The state dict: the pickled dict for torch.save, the module tree's state_dict() for TorchScript. */
  readonly stateDict: StateDict;
  /**
   * TorchScript only (empty for torch.save): the output qparams that quantized modules keep
   * as plain attributes, which model.state_dict() does not save (nnq.Hardswish, ELU,
   * Softmax `scale`/`zero_point`; nnq.Sigmoid `output_scale`/`output_zero_point`), keyed
   * like state-dict entries: 'features.3.hardswish.scale' -> number.
   */
  readonly attributes: Map<string, StateValue>;
}

const LEGACY_HINT =
  'this is the legacy torch.save format (torch < 1.6, or _use_new_zipfile_serialization=False), which qkernels does not read; ' +
  're-save it with torch >= 1.6: torch.save(torch.load(path), new_path)';

function sourceName(source: unknown): string {
  if (typeof source === 'string') return source;
  if (validate.typedArrayKind(source, ['Uint8Array']) !== undefined) return '<bytes>';
  throw validate.invalidType('file path (string) or Uint8Array/Buffer of a weights file', 'pathOrBytes', source);
}

/** Parses the bytes of a weights file (a view over them is kept by the tensors it returns). */
export function parseArchive(bytes: Uint8Array, file: string): LoadedArchive {
  const where: Where = { file };
  if (endianness() !== 'LE') throw loadError(where, 'qkernels reads weight files on little-endian hosts only');
  if (!looksLikeZip(bytes)) {
    // The legacy format is a bare pickle stream (protocol 2 starts 0x80 0x02); torch 0.x wrote a tar.
    const legacy = bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] === 0x02;
    const tar = bytes.length > 262 && Buffer.from(bytes.subarray(257, 262)).toString('latin1') === 'ustar';
    throw loadError(where, legacy || tar ? LEGACY_HINT : 'not a PyTorch weights file (not a zip archive written by torch.save or torch.jit.save)');
  }
  const archive = new ZipArchive(bytes, file);
  const pickleName = Array.from(archive.entries.keys()).find((name) => /^[^/]*\/data\.pkl$/.test(name) || name === 'data.pkl');
  if (pickleName === undefined) {
    const oldScript = Array.from(archive.entries.keys()).some((name) => name.endsWith('model.json') || name.endsWith('attributes.pkl'));
    throw loadError(where, oldScript
      ? 'TorchScript archive of a format before torch 1.4 (no data.pkl); re-save it with torch.jit.save from a recent torch'
      : 'zip archive without data.pkl: not written by torch.save or torch.jit.save');
  }
  const prefix = pickleName.slice(0, pickleName.length - 'data.pkl'.length);
  const byteorder = archive.entries.has(`${prefix}byteorder`) ? Buffer.from(archive.read(`${prefix}byteorder`)).toString('latin1') : 'little';
  if (byteorder !== 'little') throw loadError({ file, entry: `${prefix}byteorder` }, `tensors stored ${byteorder}-endian; qkernels reads little-endian files only`);
  const codeFiles = new Map<string, string>();
  const codePrefix = `${prefix}code/`;
  for (const name of archive.entries.keys()) {
    if (name.startsWith(codePrefix) && name.endsWith('.py')) codeFiles.set(name.slice(codePrefix.length), Buffer.from(archive.read(name)).toString('utf8'));
  }
  const torchScript = codeFiles.size > 0 || archive.entries.has(`${prefix}constants.pkl`);
  const pickleWhere = { file, entry: pickleName };
  const environment = torchEnvironment({
    where: pickleWhere,
    torchScript,
    readStorage: (key) => {
      const entry = `${prefix}data/${key}`;
      if (!archive.entries.has(entry)) throw loadError({ file, entry }, 'missing tensor storage entry');
      return archive.read(entry);
    },
  });
  const object = unpickle(archive.read(pickleName), environment, pickleWhere);
  if (torchScript) {
    const { stateDict, attributes } = scriptStateDict(object, parseScriptClasses(codeFiles), pickleWhere);
    return { format: 'torchscript', stateDict, attributes };
  }
  if (object instanceof ScriptObject) throw loadError(pickleWhere, 'TorchScript object in an archive without code/');
  if (!(object instanceof Map) || !Array.from(object.keys()).every((key) => typeof key === 'string')) {
    const kind = object instanceof Map ? 'dict with non-string keys' : Array.isArray(object) ? 'list or tuple' : typeof object === 'object' && object !== null ? (object as object).constructor.name : typeof object;
    throw loadError(pickleWhere, `the file holds a ${kind}, not a state dict (a dict of tensors); save model.state_dict()`);
  }
  return { format: 'torch.save', stateDict: object as StateDict, attributes: new Map() };
}

/**
 * The full content of a weights file, synchronously: the state dict, its format and (for
 * TorchScript archives) the qparams attributes state_dict() leaves out. See load().
 */
export function loadArchive(pathOrBytes: string | Uint8Array): LoadedArchive {
  const file = sourceName(pathOrBytes);
  const bytes = typeof pathOrBytes === 'string' ? readFileSync(pathOrBytes) : pathOrBytes;
  return parseArchive(bytes, file);
}

/** loadArchive() with the file read off the event loop. */
export async function loadArchiveAsync(pathOrBytes: string | Uint8Array): Promise<LoadedArchive> {
  const file = sourceName(pathOrBytes);
  const bytes = typeof pathOrBytes === 'string' ? await fsPromises.readFile(pathOrBytes) : pathOrBytes;
  return parseArchive(bytes, file);
}

/**
 * torch.load for weights: reads a torch.save file (torch >= 1.6 zip format) or a
 * torch.jit.save TorchScript archive, and returns its state dict, keys in PyTorch's order.
 * Only weights are read (a fixed allowlist of globals; no code runs); a file that pickles
 * anything else throws a LoadError naming it. Tensors are views over the file's bytes where
 * their alignment allows, so the returned tensors keep the file's buffer alive.
 *
 * @example
 * const sd = load('resnet18_quantized.pth');
 * sd.get('conv1.weight');   // QTensor qint8 per_channel_affine
 * sd.get('fc._packed_params._packed_params'); // [QTensor, Tensor]
 */
export function load(pathOrBytes: string | Uint8Array): StateDict {
  return loadArchive(pathOrBytes).stateDict;
}

/** load() with the file read off the event loop (parsing itself is a short synchronous step: no tensor is copied). */
export async function loadAsync(pathOrBytes: string | Uint8Array): Promise<StateDict> {
  return (await loadArchiveAsync(pathOrBytes)).stateDict;
}

export { LoadError };
