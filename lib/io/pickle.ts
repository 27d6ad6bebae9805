// A restricted unpickler: the opcodes of pickle protocols 2-4 that PyTorch writes, with no code execution; every global goes through the caller's allowlist.
//
// Python's pickle runs arbitrary callables (GLOBAL + REDUCE). This loop only moves data:
// GLOBAL asks `resolveGlobal`, which returns a token or throws; REDUCE, NEWOBJ and BUILD hand
// that token and plain arguments to the caller's handlers, which build tensors and containers
// from a fixed list. The loop is iterative (nesting depth costs no JS stack) and checks every
// length and index against the bytes it has, so bad input ends in a LoadError.

import { Where, loadError } from './errors';
import { decodeText } from './zip';

/** A global the caller allowed: what REDUCE/NEWOBJ/BUILD handlers get back. */
export interface PickleGlobal {
  readonly module: string;
  readonly name: string;
}

/** What the unpickler needs from the loader: the allowlist and what each allowed global does. */
export interface PickleEnvironment {
  /** Returns the token (or the value, for dtypes and the like) of an allowed global; throws the LoadError that names a refused one. */
  resolveGlobal(module: string, name: string): unknown;
  /** callable(*args) for an allowed callable. */
  reduce(callable: unknown, args: unknown[]): unknown;
  /** cls.__new__(cls, *args) for an allowed class. */
  newObject(cls: unknown, args: unknown[]): unknown;
  /** obj.__setstate__(state) or its dict update; returns the object that replaces it on the stack. */
  build(object: unknown, state: unknown): unknown;
  /** The object a persistent id names (torch: a storage). */
  persistentLoad(pid: unknown): unknown;
}

/** Python's tuple: a frozen array (tuples are immutable; lists are never frozen), so the loader can tell them apart. */
export type PyTuple = readonly unknown[];

function makeTuple(items: unknown[]): unknown[] {
  return Object.freeze(items) as unknown[];
}

/** True for arrays the pickle built as tuples. */
export function isTuple(value: unknown): value is PyTuple {
  return Array.isArray(value) && Object.isFrozen(value);
}

// Longest LONG4 accepted: a weights file has no integer of thousands of digits, and BigInt parsing of one is slow.
const MAX_LONG_BYTES = 256;

/** Runs the pickle in `bytes` and returns the object it builds. */
export function unpickle(bytes: Uint8Array, environment: PickleEnvironment, where: Where): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  // Memo: a dense array for the sequential small indexes pickle writes, a Map for the rest (a huge index allocates nothing).
  const memoDense: unknown[] = [];
  const memoSparse = new Map<number, unknown>();
  const DENSE_LIMIT = 1 << 20;
  const memoSet = (index: number, value: unknown): void => {
    if (index < DENSE_LIMIT && index <= memoDense.length) memoDense[index] = value;
    else memoSparse.set(index, value);
  };
  let position = 0;

  const fail = (problem: string): never => {
    throw loadError(where, `${problem} (pickle byte ${position})`);
  };
  const need = (length: number): number => {
    if (length < 0 || position + length > bytes.length) fail(`truncated pickle: needs ${length} more bytes, ${bytes.length - position} left`);
    const start = position;
    position += length;
    return start;
  };
  const u8 = (): number => bytes[need(1)];
  const u16 = (): number => view.getUint16(need(2), true);
  const u32 = (): number => view.getUint32(need(4), true);
  const u64 = (): number => {
    const value = view.getBigUint64(need(8), true);
    if (value > BigInt(bytes.length)) fail(`length ${value} exceeds the pickle's size`);
    return Number(value);
  };
  // A copy, so the result never aliases the archive (Buffer's slice would be a view).
  const copyOf = (length: number): Uint8Array => {
    const start = need(length);
    const copy = new Uint8Array(length);
    copy.set(bytes.subarray(start, start + length));
    return copy;
  };
  const utf8 = (length: number): string => {
    const start = need(length);
    return decodeText(bytes, start, length);
  };
  const latin1 = (length: number): string => {
    const start = need(length);
    return Buffer.from(bytes.buffer, bytes.byteOffset + start, length).toString('latin1');
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, position);
    if (end < 0) fail('truncated pickle: unterminated text line');
    const text = utf8(end - position);
    position++;
    return text;
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1])) fail('corrupted pickle: pop from an empty stack');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1])) fail('corrupted pickle: empty stack');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const mark = marks.pop();
    if (mark === undefined) fail('corrupted pickle: no MARK for this opcode');
    return stack.splice(mark as number);
  };
  const memoGet = (index: number): void => {
    if (index < memoDense.length) stack.push(memoDense[index]);
    else if (memoSparse.has(index)) stack.push(memoSparse.get(index));
    else fail(`corrupted pickle: memo index ${index} was never stored`);
  };
  const long = (length: number): number | bigint => {
    if (length > MAX_LONG_BYTES) fail(`integer of ${length} bytes is too large for a weights file`);
    const start = need(length);
    if (length === 0) return 0;
    let value = 0n;
    for (let i = length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[start + i]);
    if (bytes[start + length - 1] & 0x80) value -= 1n << BigInt(8 * length);
    return value >= BigInt(-Number.MAX_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  };
  const dictTarget = (): Map<unknown, unknown> => {
    const target = top();
    if (!(target instanceof Map)) fail('corrupted pickle: SETITEM on something that is not a dict');
    return target as Map<unknown, unknown>;
  };
  const listTarget = (): unknown[] => {
    const target = top();
    if (!Array.isArray(target) || isTuple(target)) fail('corrupted pickle: APPEND on something that is not a list');
    return target as unknown[];
  };
  const setItems = (target: Map<unknown, unknown>, items: unknown[]): void => {
    if (items.length % 2 !== 0) fail('corrupted pickle: odd number of items for a dict');
    for (let i = 0; i < items.length; i += 2) target.set(hashable(items[i]), items[i + 1]);
  };
  const hashable = (key: unknown): unknown => {
    // Map keys compare by identity; a weights file only keys dicts by strings and numbers.
    if (typeof key === 'string' || typeof key === 'number' || typeof key === 'bigint' || typeof key === 'boolean' || key === null) return key;
    return fail('unsupported dict key type (weights files key dicts by strings and numbers)');
  };

  for (;;) {
    if (position >= bytes.length) fail('truncated pickle: no STOP opcode');
    const opcode = bytes[position++];
    switch (opcode) {
      case 0x80: // PROTO
        if (u8() > 5) fail('unsupported pickle protocol');
        break;
      case 0x95: // FRAME (protocol 4): a size hint only
        need(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length !== 0) fail('corrupted pickle: STOP with a stack that does not hold exactly one object');
        return stack[0];
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(view.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(long(u8()));
        break;
      case 0x8b: { // LONG4
        const length = view.getInt32(need(4), true);
        if (length < 0) fail('corrupted pickle: negative LONG4 length');
        stack.push(long(length));
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        stack.push(view.getFloat64(need(8), false));
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8(u64()));
        break;
      case 0x54: // BINSTRING (Python 2 str): read as latin-1 text, as torch.load's encoding does
        stack.push(latin1(view.getInt32(need(4), true)));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1(u8()));
        break;
      case 0x42: // BINBYTES
        stack.push(copyOf(u32()));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(copyOf(u8()));
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(makeTuple([]));
        break;
      case 0x74: // TUPLE
        stack.push(makeTuple(popMark()));
        break;
      case 0x85: // TUPLE1
        stack.push(makeTuple([pop()]));
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        const a = pop();
        stack.push(makeTuple([a, b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(makeTuple([a, b, c]));
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: { // APPEND
        const item = pop();
        listTarget().push(item);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        const target = listTarget();
        for (const item of items) target.push(item);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: { // DICT
        const dict = new Map<unknown, unknown>();
        setItems(dict, popMark());
        stack.push(dict);
        break;
      }
      case 0x73: { // SETITEM
        const value = pop();
        const key = pop();
        setItems(dictTarget(), [key, value]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(dictTarget(), items);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x90: { // ADDITEMS
        const items = popMark();
        const target = top();
        if (!(target instanceof Set)) fail('corrupted pickle: ADDITEMS on something that is not a set');
        for (const item of items) (target as Set<unknown>).add(hashable(item));
        break;
      }
      case 0x91: // FROZENSET
        stack.push(new Set(popMark().map(hashable)));
        break;
      case 0x63: { // GLOBAL: "module\nname\n"
        const module = line();
        const name = line();
        stack.push(environment.resolveGlobal(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('corrupted pickle: STACK_GLOBAL needs two strings');
        stack.push(environment.resolveGlobal(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const callable = pop();
        if (!Array.isArray(args)) fail('corrupted pickle: REDUCE arguments are not a tuple');
        stack.push(environment.reduce(callable, args as unknown[]));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop();
        const cls = pop();
        if (!Array.isArray(args)) fail('corrupted pickle: NEWOBJ arguments are not a tuple');
        stack.push(environment.newObject(cls, args as unknown[]));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const object = pop();
        stack.push(environment.build(object, state));
        break;
      }
      case 0x51: // BINPERSID
        stack.push(environment.persistentLoad(pop()));
        break;
      case 0x71: // BINPUT
        memoSet(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memoSet(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memoSet(memoDense.length + memoSparse.size, top());
        break;
      case 0x68: // BINGET
        memoGet(u8());
        break;
      case 0x6a: // LONG_BINGET
        memoGet(u32());
        break;
      default:
        position--;
        fail(`unsupported or corrupted pickle opcode 0x${opcode.toString(16).padStart(2, '0')}`);
    }
  }
}
