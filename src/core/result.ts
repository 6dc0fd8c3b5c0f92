/**
 * Result: the value every hook returns. `Ok(value)` and `Err(error)` are plain functions (no `new`).
 * A Result from another copy of the SDK is recognised by shape (`ok` + `isOk`), never by `instanceof`.
 */

export interface OkResult<T> {
  readonly ok: true;
  readonly value: T;
  isOk(): this is OkResult<T>;
  isErr(): false;
  /** Returns the value. */
  unwrap(): T;
  unwrapOr(fallback: T): T;
}

export interface ErrResult<E = Error> {
  readonly ok: false;
  readonly error: E;
  isOk(): false;
  isErr(): this is ErrResult<E>;
  /** Throws the error (wrapped in an Error when it is not one). */
  unwrap(): never;
  unwrapOr<T>(fallback: T): T;
}

export type Result<T, E = Error> = OkResult<T> | ErrResult<E>;

class OkImpl<T> implements OkResult<T> {
  readonly ok = true as const;
  constructor(readonly value: T) {}
  isOk(): this is OkResult<T> {
    return true;
  }
  isErr(): false {
    return false;
  }
  unwrap(): T {
    return this.value;
  }
  unwrapOr(): T {
    return this.value;
  }
}

class ErrImpl<E> implements ErrResult<E> {
  readonly ok = false as const;
  constructor(readonly error: E) {}
  isOk(): false {
    return false;
  }
  isErr(): this is ErrResult<E> {
    return true;
  }
  unwrap(): never {
    throw toError(this.error);
  }
  unwrapOr<T>(fallback: T): T {
    return fallback;
  }
}

export function Ok<T>(value: T): OkResult<T> {
  return new OkImpl(value);
}

export function Err<E = Error>(error: E): ErrResult<E> {
  return new ErrImpl(error);
}

/** True for any Result, including one made by another copy of the SDK. */
export function isResult(value: unknown): value is Result<unknown, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { ok?: unknown }).ok === 'boolean' &&
    typeof (value as { isOk?: unknown }).isOk === 'function'
  );
}

/** Turns anything thrown or put in an Err into an Error, keeping an Error as it is. */
export function toError(error: unknown): Error {
  if (error instanceof Error) return error;
  if (typeof error === 'object' && error !== null && typeof (error as Error).message === 'string') {
    const e = new Error((error as Error).message);
    if (typeof (error as Error).name === 'string') e.name = (error as Error).name;
    return e;
  }
  return new Error(String(error));
}

/** The message of anything that may be thrown or returned in an Err. */
export function errorMessage(error: unknown): string {
  return toError(error).message;
}
