// The one family of argument checks: every public function validates through these, so every error reads the same.
//
// Every message has the shape
//   Expected <what> for <parameter> but received <value> of type <typeof value>
// A value of the wrong JavaScript type throws a TypeError; a value of the right type
// that is out of range, of the wrong length or shape, throws a RangeError.

import { constants as bufferConstants } from 'buffer';
import { types } from 'util';

/**
 * Symbol.dispose (explicit resource management: `using m = new nnq.Linear(...)`), by its
 * registered name where this Node.js does not define it yet.
 */
export const disposeSymbol: typeof Symbol.dispose = ((Symbol as { dispose?: symbol }).dispose ?? Symbol.for('nodejs.dispose')) as typeof Symbol.dispose;

// Symbol.dispose's type, as TypeScript's lib.esnext.disposable and @types/node declare it (the
// declarations merge), so that `using model = ...` type-checks in a user's TypeScript: the
// published .d.ts then types every module's [Symbol.dispose]() as Disposable's.
declare global {
  interface SymbolConstructor {
    readonly dispose: unique symbol;
  }
}

const releasedModules = new WeakSet<object>();
const disposedModules = new WeakSet<object>();
/** What a disposed leaf's toString returns: its text as it was before dispose(). */
const textBeforeDispose = new WeakMap<object, string>();

type Named = { getName(): string };

/** The TypeError of any use of a disposed module, naming it. */
function disposedError(module: Named): TypeError {
  const name = module.getName();
  return new TypeError(`Expected ${name} that was not disposed for this but received ${name} after dispose() (its native memory is freed) of type object`);
}

// Shared by every disposed module (no closure per module: dispose() in a loop makes no garbage to speak of).
const disposedField: PropertyDescriptor = {
  configurable: true,
  enumerable: false,
  get(this: Named): never {
    throw disposedError(this);
  },
  set(this: Named): never {
    throw disposedError(this);
  },
};
/** A non-enumerable, read-only own method that shadows the class's. */
const hiddenMethod = (value: (this: Named) => unknown): PropertyDescriptor => ({ configurable: true, enumerable: false, writable: false, value });
const disposedForward = hiddenMethod(function (this: Named): never {
  throw disposedError(this);
});
const disposedForwardAsync = hiddenMethod(function (this: Named): Promise<never> {
  return Promise.reject(disposedError(this));
});
const disposedToString = hiddenMethod(function (this: Named): string {
  return textBeforeDispose.get(this) ?? '';
});

/**
 * A leaf module's dispose(): runs `release` (frees its native memory) the first time only,
 * then turns each of `fields` into an accessor that throws a TypeError naming the module, so
 * any later use fails here rather than as an anonymous native handle error; toString keeps
 * the text it had.
 */
export function disposeOnce(module: Named & { toString(): string }, fields: readonly string[], release: () => void): void {
  if (releasedModules.has(module)) return;
  releasedModules.add(module);
  // print(model) still works after dispose(): the leaf's text (its settings) as it was.
  textBeforeDispose.set(module, module.toString());
  try {
    release();
  } finally {
    for (const field of fields) Object.defineProperty(module, field, disposedField);
    Object.defineProperty(module, 'toString', disposedToString);
  }
}

/**
 * nn.Module's dispose(), every module's: the first time returns true and shadows the
 * module's `forward` (throws) and `forwardAsync` (rejects) with the TypeError naming it, so
 * a disposed container, zoo model or user module fails at its own name before any child
 * runs; later times return false (dispose is idempotent, and a cycle ends here).
 */
export function markDisposed(module: Named): boolean {
  if (disposedModules.has(module)) return false;
  disposedModules.add(module);
  if (!Object.isExtensible(module)) return true;  // a frozen user module: its leaves still throw
  Object.defineProperty(module, 'forward', disposedForward);
  Object.defineProperty(module, 'forwardAsync', disposedForwardAsync);
  return true;
}

/** Objects that know how to describe themselves in an error message (Tensor, QTensor). */
export const describeSymbol: unique symbol = Symbol('qkernels.describe');

/**
 * util.inspect.custom, by its registered name: console.log then prints tensors as torch does.
 * Spelled out (not imported from 'util') so the published .d.ts files need no @types/node.
 */
export const inspectSymbol: unique symbol = Symbol.for('nodejs.util.inspect.custom');

interface SelfDescribing {
  [describeSymbol](): string;
}

const MAX_LISTED_ITEMS = 8;
const MAX_STRING_CHARS = 64;

/** A short rendering of a received value: never the whole of a big array. */
export function describeValue(value: unknown, depth = 0): string {
  switch (typeof value) {
    case 'string':
      // Quoted, so that '' and ' ' are visible: received '' of type string.
      return `'${value.length > MAX_STRING_CHARS ? `${value.slice(0, MAX_STRING_CHARS - 3)}...` : value}'`;
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint':
      return `${value}n`;
    case 'symbol':
      return value.toString();
    case 'function':
      return value.name ? `[Function ${value.name}]` : '[Function]';
    case 'boolean':
    case 'undefined':
      return String(value);
    default:
      break;
  }
  if (value === null) return 'null';
  const object = value as object;
  if (typeof (object as Partial<SelfDescribing>)[describeSymbol] === 'function') {
    return (object as SelfDescribing)[describeSymbol]();
  }
  if (types.isTypedArray(object)) {
    const name = object.constructor?.name ?? 'TypedArray';
    return isDetached(object) ? `${name}(detached)` : `${name}(${object.length})`;
  }
  if (types.isArrayBuffer(object) || types.isSharedArrayBuffer(object)) {
    return `${object.constructor?.name ?? 'ArrayBuffer'}(${object.byteLength})`;
  }
  if (depth > 0) return Array.isArray(object) ? '[...]' : '{...}';
  if (Array.isArray(object)) {
    const shown = object.slice(0, MAX_LISTED_ITEMS).map((item) => describeValue(item, depth + 1));
    if (object.length > MAX_LISTED_ITEMS) shown.push('...');
    return `[${shown.join(', ')}]`;
  }
  const prototype = Object.getPrototypeOf(object);
  if (prototype === Object.prototype || prototype === null) {
    const keys = Object.keys(object);
    const shown = keys.slice(0, MAX_LISTED_ITEMS).map((key) => `${key}: ${describeValue((object as Record<string, unknown>)[key], depth + 1)}`);
    if (keys.length > MAX_LISTED_ITEMS) shown.push('...');
    return `{${shown.join(', ')}}`;
  }
  return `[object ${object.constructor?.name ?? 'Object'}]`;
}

/** The one message builder: `received` is how the value is shown (expectedMessage's, or a caller's own rendering). */
export function expected(what: string, parameter: string, received: string): string {
  return `Expected ${what} for ${parameter} but received ${received}`;
}

/** The message for a value rendered by describeValue, with its JavaScript type. */
export function expectedMessage(what: string, parameter: string, value: unknown): string {
  return expected(what, parameter, `${describeValue(value)} of type ${typeof value}`);
}

/** A TypeError: the value has the wrong JavaScript type. */
export function invalidType(what: string, parameter: string, value: unknown): TypeError {
  return new TypeError(expectedMessage(what, parameter, value));
}

/** A RangeError: the value has the right type but a bad value, length or shape. */
export function invalidRange(what: string, parameter: string, value: unknown): RangeError {
  return new RangeError(expectedMessage(what, parameter, value));
}

// ---- numbers ---------------------------------------------------------------

function requireNumber(value: unknown, parameter: string, what: string): number {
  if (typeof value !== 'number') throw invalidType(what, parameter, value);
  return value;
}

/** A finite number (no NaN, no infinities). */
export function finiteNumber(value: unknown, parameter: string): number {
  const what = 'finite number';
  const number = requireNumber(value, parameter, what);
  if (!Number.isFinite(number)) throw invalidRange(what, parameter, value);
  return number;
}

/** A finite number > 0: scales. */
export function positiveFiniteNumber(value: unknown, parameter: string): number {
  const what = 'positive finite number';
  const number = requireNumber(value, parameter, what);
  if (!(Number.isFinite(number) && number > 0)) throw invalidRange(what, parameter, value);
  return number;
}

/**
 * A quantization scale: a positive finite number that float32 (the kernels' and torch's
 * precision) also holds as a positive finite number. Returns the value unrounded.
 */
export function scale(value: unknown, parameter: string): number {
  const number = positiveFiniteNumber(value, parameter);
  const rounded = Math.fround(number);
  if (!(rounded > 0 && Number.isFinite(rounded))) throw invalidRange('positive number finite in float32', parameter, value);
  return number;
}

/** An integer in [min, max] (both inclusive); -0 is returned as 0, as an integer has no sign of zero. */
export function integerInRange(value: unknown, parameter: string, min: number, max: number): number {
  // The message only on failure: a template with two numbers costs more than the check (zero points are checked per op call).
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value + 0;
  const what = `integer in [${min}, ${max}]`;
  const number = requireNumber(value, parameter, what);
  if (!Number.isInteger(number) || number < min || number > max) throw invalidRange(what, parameter, value);
  return number + 0;
}

/** An integer >= 0 that is exactly representable (<= 2^53 - 1). */
export function nonNegativeInteger(value: unknown, parameter: string): number {
  const what = 'non-negative integer';
  const number = requireNumber(value, parameter, what);
  if (!Number.isSafeInteger(number) || number < 0) throw invalidRange(what, parameter, value);
  return number;
}

export function boolean(value: unknown, parameter: string): boolean {
  if (typeof value !== 'boolean') throw invalidType('boolean', parameter, value);
  return value;
}

/** One of a fixed set of strings (dtype, qscheme, memory format, ISA level). */
export function oneOf<T extends string>(value: unknown, parameter: string, allowed: readonly T[]): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  const what = `one of ${allowed.join(', ')}`;  // built only for the error
  if (typeof value !== 'string') throw invalidType(what, parameter, value);
  throw invalidRange(what, parameter, value);
}

// ---- options objects -------------------------------------------------------

/** What options() returns for undefined: one frozen empty object (callers only read it), not one per call. */
const NO_OPTIONS: Record<string, unknown> = Object.freeze({});

/**
 * An options object: undefined means "all defaults"; anything but a plain object is a
 * TypeError; a key that is not an option of this function is a RangeError (a typo must
 * never silently fall back to a default).
 */
export function options(value: unknown, parameter: string, known: readonly string[]): Record<string, unknown> {
  if (value === undefined) return NO_OPTIONS;
  if (typeof value !== 'object' || value === null || Array.isArray(value) || types.isTypedArray(value)) {
    // The text is built only for the error: a module's options are read on every forward.
    throw invalidType(known.length > 0 ? `object with options ${known.join(', ')}` : 'empty object', parameter, value);
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw invalidRange(known.length > 0 ? `one of ${known.join(', ')}` : 'no option', `${parameter} key`, key);
    }
  }
  return value as Record<string, unknown>;
}

// ---- typed arrays ----------------------------------------------------------

/**
 * True when the typed array's ArrayBuffer has been detached (transferred to a worker,
 * or by ArrayBuffer.prototype.transfer). Node 20's V8 lacks ArrayBuffer.prototype.detached,
 * so fall back to the one operation that tells: constructing a view on a detached buffer throws.
 */
export function isDetached(array: ArrayBufferView): boolean {
  // A view of a detached buffer has byteLength 0: any other view is attached, which is what
  // every op call asks of its inputs (answered without reading .buffer).
  if (array.byteLength !== 0) return false;
  const buffer = array.buffer as ArrayBuffer & { detached?: boolean };
  if (typeof buffer.detached === 'boolean') return buffer.detached;
  if (types.isSharedArrayBuffer(buffer)) return false;
  try {
    new Uint8Array(buffer);
    return false;
  } catch {
    return true;
  }
}

export type TypedArrayName =
  | 'Float32Array'
  | 'Float64Array'
  | 'Uint8Array'
  | 'Int8Array'
  | 'Int32Array'
  | 'Int16Array'
  | 'Uint16Array'
  | 'BigInt64Array';

interface TypedArrayByName {
  Float32Array: Float32Array;
  Float64Array: Float64Array;
  Uint8Array: Uint8Array;
  Int8Array: Int8Array;
  Int32Array: Int32Array;
  Int16Array: Int16Array;
  Uint16Array: Uint16Array;
  BigInt64Array: BigInt64Array;
}

// util.types checks work across realms (vm contexts), unlike instanceof.
const typedArrayTests: { [K in TypedArrayName]: (value: unknown) => boolean } = {
  Float32Array: (value) => types.isFloat32Array(value),
  Float64Array: (value) => types.isFloat64Array(value),
  Uint8Array: (value) => types.isUint8Array(value),
  Int8Array: (value) => types.isInt8Array(value),
  Int32Array: (value) => types.isInt32Array(value),
  Int16Array: (value) => types.isInt16Array(value),
  Uint16Array: (value) => types.isUint16Array(value),
  BigInt64Array: (value) => types.isBigInt64Array(value),
};

/** Which of the given typed array kinds value is, or undefined. */
export function typedArrayKind<K extends TypedArrayName>(value: unknown, kinds: readonly K[]): K | undefined {
  return kinds.find((kind) => typedArrayTests[kind](value));
}

/**
 * The ArrayBuffers of donated tensors (lib/handoff.ts). Once an async op has taken one it is
 * detached, and a later read of it is explained (native/addon/common.cc says the same).
 */
export const donatedBuffers = new WeakSet<ArrayBufferLike>();

/** What a detached `kind` is expected to be instead, with the reason when a donation took it. */
function attachedKind(kind: string, array: ArrayBufferView): string {
  if (donatedBuffers.has(array.buffer)) {
    return `${kind} with an attached buffer (this one was donated and an earlier async op took it: donate() hands a tensor ` +
      'to the one async op that reads it first, so donate only what is read once, such as a traced module\'s input)';
  }
  return `${kind} with an attached (not transferred) buffer`;
}

/** A typed array of one of the given kinds whose buffer is still attached. */
export function typedArray<K extends TypedArrayName>(
  value: unknown,
  parameter: string,
  kinds: readonly K[],
): TypedArrayByName[K] {
  // The text is built only for an error (ops check their index arrays on every call).
  if (typedArrayKind(value, kinds) === undefined) throw invalidType(kinds.join(' or '), parameter, value);
  const array = value as TypedArrayByName[K];
  if (isDetached(array)) throw invalidType(attachedKind(kinds.join(' or '), array), parameter, value);
  return array;
}

/** Throws the TypeError for a detached buffer; used where the kind is already known. */
export function attached(array: ArrayBufferView, parameter: string): void {
  if (isDetached(array)) {
    throw invalidType(attachedKind(array.constructor?.name ?? 'typed array', array), parameter, array);
  }
}

/** The most dims a shape may have (torch's tensors stay far below it). */
export const MAX_RANK = 1024;

/**
 * An Array read once: its length once (checked against maxLength), each item once, into a
 * fresh plain array. Every check and every later use then sees the same values: a Proxy or
 * an array with getters can neither change them between the two nor make a loop walk a
 * length it lies about.
 */
export function arrayOnce(value: readonly unknown[], parameter: string, what: string | (() => string), maxLength: number = 2 ** 32 - 1): unknown[] {
  const length: unknown = value.length;
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0 || length > maxLength) {
    throw invalidRange(`${typeof what === 'function' ? what() : what} (at most ${maxLength} items)`, parameter, value);
  }
  const items = new Array<unknown>(length);
  for (let i = 0; i < length; i++) items[i] = value[i];
  return items;
}

/**
 * A list of numbers: an Array or a typed array (not a string, not an object with a
 * length). Elements are checked by the caller, which knows what they must be.
 */
export function numberList(value: unknown, parameter: string, what: string): ArrayLike<number> {
  if (Array.isArray(value)) return arrayOnce(value, parameter, what) as unknown as ArrayLike<number>;
  if (types.isTypedArray(value) && !types.isBigInt64Array(value) && !types.isBigUint64Array(value)) {
    attached(value, parameter);
    return value as unknown as ArrayLike<number>;
  }
  throw invalidType(what, parameter, value);
}

// ---- shapes, axes, sizes ---------------------------------------------------

/** The largest byte length one ArrayBuffer may have in this Node.js. */
export const MAX_BUFFER_BYTES: number = bufferConstants.MAX_LENGTH;

/**
 * A shape: an array of non-negative integers whose product is exactly representable.
 * Returns a fresh frozen copy, so callers can keep it.
 */
export function shape(value: unknown, parameter: string): readonly number[] {
  const what = 'array of non-negative integers';
  if (!Array.isArray(value)) throw invalidType(what, parameter, value);
  const items = arrayOnce(value, parameter, what, MAX_RANK);
  const dims: number[] = [];
  for (let i = 0; i < items.length; i++) {
    const v = items[i];
    // nonNegativeInteger's test; the dim's name is built only for its error (a shape is read per op call).
    dims.push(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : nonNegativeInteger(v, `${parameter}[${i}]`));
  }
  shapeNumel(dims, parameter);
  return Object.freeze(dims);
}

/**
 * The number of elements of a shape; a product above 2^53 - 1 cannot be computed exactly
 * in a JS number and is rejected rather than rounded.
 */
export function shapeNumel(dims: readonly number[], parameter: string): number {
  // A zero dim makes the product 0 whatever the others are (and Infinity * 0 would be NaN).
  if (dims.includes(0)) return 0;
  let product = 1;
  for (let d = 0; d < dims.length; d++) product *= dims[d];
  if (!(product <= Number.MAX_SAFE_INTEGER)) {
    throw invalidRange(`shape with at most ${Number.MAX_SAFE_INTEGER} elements`, parameter, dims);
  }
  return product;
}

/** Rejects element counts whose storage would not fit in one ArrayBuffer. */
export function storageFits(elements: number, bytesPerElement: number, parameter: string, value: unknown): void {
  if (elements * bytesPerElement > MAX_BUFFER_BYTES) {
    throw invalidRange(`shape whose storage fits in one ArrayBuffer (at most ${MAX_BUFFER_BYTES} bytes)`, parameter, value);
  }
}

/**
 * A dimension index in [-rank, rank - 1], wrapped like torch's wrap_dim (negative counts
 * from the end). A 0-d tensor accepts -1 and 0, as torch's wrap_dim does for scalars.
 */
export function axis(value: unknown, parameter: string, rank: number): number {
  const effective = Math.max(rank, 1);
  const wrapped = integerInRange(value, parameter, -effective, effective - 1);
  return wrapped < 0 ? wrapped + effective : wrapped;
}

/**
 * A per-channel axis in [0, rank - 1]. Not wrapped: torch's quantize_per_channel rejects a
 * negative axis ("Channel axis out of range"), and so do the per-channel functions here.
 */
export function channelAxis(value: unknown, parameter: string, rank: number): number {
  return integerInRange(value, parameter, 0, rank - 1);
}
