// Assertions on thrown errors: the class (by name, so errors made in Node's realm count under jest's vm) and sharp's message shape.
//
// Every validation error reads `Expected <what> for <parameter> but received <value> of type <type>`.
// Jest runs test files in their own vm context; an error the addon creates belongs to Node's main
// context, so `instanceof RangeError` would be false for it there. The class is therefore checked by
// name and constructor name; test/async.test.ts also checks real `instanceof` in a plain Node process.

import { LoadError } from '../..';

export type ErrorClassName = 'TypeError' | 'RangeError';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The message every validation error must match, for a given parameter name. */
export function messageShape(parameter: string): RegExp {
  return new RegExp(`Expected .+ for ${escapeRegExp(parameter)} but received .+ of type \\w+`);
}

/** Whether `error` is an instance of the named built-in error class, from any realm. */
export function isErrorOfClass(error: unknown, className: ErrorClassName): boolean {
  if (error === null || typeof error !== 'object') return false;
  const e = error as { name?: unknown; constructor?: { name?: unknown } };
  return Object.prototype.toString.call(error) === '[object Error]' && e.name === className && e.constructor?.name === className;
}

export function describeThrown(error: unknown): string {
  if (error === undefined) return 'nothing (no error thrown)';
  if (error !== null && typeof error === 'object' && 'message' in error) {
    return `${(error as { constructor?: { name?: string } }).constructor?.name ?? 'object'}: ${(error as Error).message}`;
  }
  return `${typeof error} ${String(error)}`;
}

/** Checks one caught error; returns a complaint or null. */
export function complaintAbout(error: unknown, className: ErrorClassName, parameter: string): string | null {
  if (!isErrorOfClass(error, className)) return `expected a ${className} naming ${parameter}, got ${describeThrown(error)}`;
  if (!messageShape(parameter).test((error as Error).message)) {
    return `${className} message does not match ${messageShape(parameter)}: "${(error as Error).message}"`;
  }
  return null;
}

/** Calls `body`, which must throw `className` with a message naming `parameter`. */
export function expectValidationError(body: () => unknown, className: ErrorClassName, parameter: string, what = ''): void {
  let caught: unknown = undefined;
  let threw = false;
  try {
    body();
  } catch (error) {
    caught = error;
    threw = true;
  }
  const complaint = threw ? complaintAbout(caught, className, parameter) : `expected a ${className} naming ${parameter}, but the call returned`;
  if (complaint !== null) throw new Error(`${what ? `${what}: ` : ''}${complaint}`);
}

/** Awaits `promise`, which must reject with `className` naming `parameter`. */
export async function expectValidationRejection(promise: Promise<unknown>, className: ErrorClassName, parameter: string, what = ''): Promise<void> {
  let caught: unknown = undefined;
  let rejected = false;
  try {
    await promise;
  } catch (error) {
    caught = error;
    rejected = true;
  }
  const complaint = rejected ? complaintAbout(caught, className, parameter) : `expected a rejection with ${className} naming ${parameter}, but it resolved`;
  if (complaint !== null) throw new Error(`${what ? `${what}: ` : ''}${complaint}`);
}

/** Runs body, which must throw the loader's LoadError with a message matching `pattern`; returns it. */
export function expectLoadError(body: () => unknown, pattern: RegExp): LoadError {
  let caught: unknown;
  try {
    body();
  } catch (error) {
    caught = error;
  }
  if (!(caught instanceof LoadError)) throw new Error(`expected a LoadError matching ${pattern}, got ${describeThrown(caught)}`);
  expect(caught.message).toMatch(pattern);
  return caught;
}

/** The error `fn` throws (a test failure when it returns): for comparing two calls' errors whole. */
export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

/** Detaches (transfers) the buffer of `array`: the input every op must refuse with a TypeError. */
export function detach(array: ArrayBufferView): void {
  structuredClone(array.buffer, { transfer: [array.buffer as ArrayBuffer] });
}
