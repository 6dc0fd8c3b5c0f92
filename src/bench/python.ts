// Finding the Python that runs PyTorch: the benchmark's reference (src/bench/torch_bench.py) and the tests'
// (tests/engine/reference/reference.py).
import { spawnSync } from 'node:child_process';

/** The environment for Python: without the OpenBLAS overrides some machines set (they break torch's BLAS). */
export function pythonEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

/** The first Python that can import torch: $DUMBO_PYTHON, python3, then the system's /usr/bin/python3. */
export function findTorchPython(): string | undefined {
  const candidates = [process.env.DUMBO_PYTHON, 'python3', '/usr/bin/python3'].filter((c): c is string => !!c);
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import torch'], { env: pythonEnv(), timeout: 60_000, stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return undefined;
}
