import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.js';
import { mulberry32, seededPermutation as permutation } from '../../src/core/index.js';
import { BatchStream, collate } from '../../src/engine/data.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const rows = Array.from({ length: 10 }, (_, i) => ({
  input_ids: [i, i + 1, i + 2].slice(0, 1 + (i % 3)),
  labels: [i, i + 1, i + 2].slice(0, 1 + (i % 3)),
}));

describe('data pipeline', () => {
  it('shuffles reproducibly for a seed and differently for another', () => {
    expect(permutation(10, 1)).toEqual(permutation(10, 1));
    expect(permutation(10, 1)).not.toEqual(permutation(10, 2));
    expect([...permutation(10, 3)].sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    const r = mulberry32(5);
    expect(r()).toBeGreaterThanOrEqual(0);
  });

  it('pads a batch to its longest row with labels -100 and counts predicted tokens', () => {
    const b = collate(
      [
        { input_ids: [5, 6, 7], labels: [-100, 6, 7] },
        { input_ids: [8], labels: [8] },
      ],
      16,
      0,
    );
    expect(b.inputIds.arraySync()).toEqual([
      [5, 6, 7],
      [8, 0, 0],
    ]);
    expect(b.labels.arraySync()).toEqual([
      [-100, 6, 7],
      [8, -100, -100],
    ]);
    expect(b.predictedTokens).toBe(2);
    expect(b.tokens).toBe(4);
  });

  it('a batch keeps the rows it was made from, in batch order, with their other fields', () => {
    const picked = [
      { input_ids: [1, 2], labels: [1, 2], rejected_input_ids: [1, 3] },
      { input_ids: [4], labels: [4], rejected_input_ids: [4, 5, 6] },
    ];
    const b = collate(picked, 16, 0);
    expect(b.rows).toHaveLength(2);
    expect(b.rows![0]).toBe(picked[0]);
    expect(b.rows![1]!.rejected_input_ids).toEqual([4, 5, 6]);
    // A stream's batch: the shuffled rows themselves, each in the tensor row of its place.
    const next = new BatchStream(rows, 4, 16, 0, 3).next();
    const ids = next.inputIds.arraySync();
    expect(next.rows).toHaveLength(4);
    next.rows!.forEach((r, k) => {
      expect(rows).toContain(r);
      expect(ids[k]!.slice(0, r.input_ids.length)).toEqual(r.input_ids);
    });
  });

  it('a stream restarted at a saved position yields the same batches as one that never stopped', () => {
    const ids = (s: BatchStream, n: number) =>
      Array.from({ length: n }, () => {
        const b = s.next();
        return JSON.stringify(b.inputIds.arraySync());
      });
    const a = new BatchStream(rows, 3, 8, 0, 42);
    const first = ids(a, 4);
    const pos = { ...a.position };
    const rest = ids(a, 5);
    const b = new BatchStream(rows, 3, 8, 0, 42, true, pos);
    expect(ids(b, 5)).toEqual(rest);
    expect(first).toHaveLength(4);
    expect(a.batchesPerEpoch).toBe(3);
    expect(pos).toEqual({ epoch: 1, batch: 1 });
  });
});
