// The benchmark's command line: which backends run by default (native-cpu beside cpu) and the PyTorch switch.
import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../src/bench/index.js';

describe('npm run bench arguments', () => {
  it('runs native-cpu beside the pure-JS cpu backend unless --backend names others', () => {
    expect(parseBenchArgs([]).backends).toEqual(['gpu', 'webgpu', 'native', 'native-cpu', 'cpu']);
    expect(parseBenchArgs(['--backend', 'native-cpu', '--backend', 'cpu']).backends).toEqual(['native-cpu', 'cpu']);
  });

  it('runs PyTorch by default and with --torch, not with --no-torch', () => {
    expect(parseBenchArgs([]).torch).toBe(true);
    expect(parseBenchArgs(['--torch', '--quick']).torch).toBe(true);
    expect(parseBenchArgs(['--no-torch']).torch).toBe(false);
  });
});
