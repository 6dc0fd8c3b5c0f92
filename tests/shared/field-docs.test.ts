import { describe, expect, it } from 'vitest';
import { fieldDoc, fieldDocLines, fieldDocs, fieldSummary, fieldValueProblem } from '../../src/shared/field-docs.js';

describe('field docs from a JSON Schema', () => {
  it('read the type, default, bounds, choices and description of each field, in order', () => {
    const docs = fieldDocs({
      type: 'object',
      properties: {
        lr: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 5e-4, description: 'The step.' },
        schedule: { enum: ['linear', 'cosine'], default: 'linear' },
        targets: { oneOf: [{ type: 'array', items: { type: 'string' } }, { type: 'string' }] },
        path: { type: ['string', 'null'] },
      },
      required: ['path'],
    });
    expect(docs).toEqual([
      { name: 'lr', type: 'number', default: 0.0005, description: 'The step.', exclusiveMinimum: 0, maximum: 1 },
      { name: 'schedule', type: 'linear | cosine', default: 'linear', choices: ['linear', 'cosine'] },
      { name: 'targets', type: 'string[] | string' },
      { name: 'path', type: 'string | null', required: true },
    ]);
    expect(fieldSummary(docs[0]!)).toBe('number, default 0.0005, > 0, <= 1');
    expect(fieldSummary(docs[3]!)).toBe('string | null, required');
  });

  it("keep a mapping's own fields, and whether it takes others", () => {
    const closed = fieldDoc('webgpu', {
      type: 'object',
      properties: { adapter: { type: 'string', description: 'Pick the adapter.' } },
      additionalProperties: false,
    });
    expect(closed).toEqual({
      name: 'webgpu',
      type: 'object',
      fields: [{ name: 'adapter', type: 'string', description: 'Pick the adapter.' }],
    });
    expect(fieldDoc('extra', { type: 'object' }).open).toBe(true);
    expect(fieldDocLines(closed)).toEqual(['webgpu: object', '  adapter: string', '      Pick the adapter.']);
  });

  it('keep only JSON defaults (a function or a cycle is left out)', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(fieldDoc('a', { default: () => 1 }).default).toBeUndefined();
    expect(fieldDoc('b', { default: cycle }).default).toBeUndefined();
    expect(fieldDoc('c', { default: { x: [1] } }).default).toEqual({ x: [1] });
  });
});

describe("a value checked against a field's schema", () => {
  const lr = fieldDoc('lr', { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 });
  const steps = fieldDoc('steps', { type: 'integer', minimum: 1, maximum: 10 });

  it('passes when the type and bounds allow it', () => {
    expect(fieldValueProblem(lr, 0.5)).toBeUndefined();
    expect(fieldValueProblem(steps, 10)).toBeUndefined();
    expect(fieldValueProblem(fieldDoc('s', { enum: ['a', 'b'] }), 'b')).toBeUndefined();
  });

  it('says what is wrong otherwise', () => {
    expect(fieldValueProblem(lr, 0)).toBe('must be above 0');
    expect(fieldValueProblem(lr, 1)).toBe('must be below 1');
    expect(fieldValueProblem(steps, 0)).toBe('must be at least 1');
    expect(fieldValueProblem(steps, 11)).toBe('must be at most 10');
    expect(fieldValueProblem(steps, 1.5)).toBe('expected an integer');
    expect(fieldValueProblem(steps, 'x')).toBe('expected integer');
    expect(fieldValueProblem(lr, Infinity)).toBe('expected a finite number');
    expect(fieldValueProblem(fieldDoc('s', { enum: ['a', 'b'] }), 'c')).toBe('expected one of a, b');
  });
});
