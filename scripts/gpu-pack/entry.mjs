// The GPU pack's bundle entry, in the order Node loads dist/: tfjs-core first (it creates the global engine
// and its Tensor class), then tfjs's gradients as dist/ has them (scripts/build.mjs bundles them from
// tfjs-core's sources), then the benchmark.
import '@tensorflow/tfjs-core';
import '../../dist/vendor/tfjs-gradients.mjs';
import '../../src/bench/main.ts';
