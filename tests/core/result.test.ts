import { describe, expect, it } from 'vitest';
import { Err, errorMessage, isResult, Ok, toError } from '../../src/core/index.js';

describe('Result', () => {
  it('Ok carries a value that unwrap returns', () => {
    const r = Ok(42);
    expect(r.ok).toBe(true);
    expect(r.isOk()).toBe(true);
    expect(r.isErr()).toBe(false);
    expect(r.unwrap()).toBe(42);
    expect(r.unwrapOr(0)).toBe(42);
  });

  it('Err carries an error that unwrap throws and unwrapOr replaces', () => {
    const r = Err(new Error('no model folder'));
    expect(r.ok).toBe(false);
    expect(r.isErr()).toBe(true);
    expect(() => r.unwrap()).toThrow('no model folder');
    expect(r.unwrapOr('fallback')).toBe('fallback');
  });

  it('Err with a non-Error value still throws an Error from unwrap', () => {
    expect(() => Err('plain text').unwrap()).toThrow(Error);
    expect(() => Err('plain text').unwrap()).toThrow('plain text');
  });

  it('narrows on the ok field', () => {
    const r = Math.random() > 2 ? Err(new Error('x')) : Ok('yes');
    if (r.ok) expect(r.value).toBe('yes');
    else throw new Error('unreachable');
  });

  it('recognises results by shape, also from another copy of the SDK', () => {
    const foreign = { ok: true, value: 1, isOk: () => true, isErr: () => false };
    expect(isResult(foreign)).toBe(true);
    expect(isResult({ ok: true })).toBe(false);
    expect(isResult(undefined)).toBe(false);
  });

  it('turns anything thrown into an Error', () => {
    expect(toError('x').message).toBe('x');
    expect(errorMessage({ message: 'from an object' })).toBe('from an object');
    const e = new TypeError('kept');
    expect(toError(e)).toBe(e);
  });
});
