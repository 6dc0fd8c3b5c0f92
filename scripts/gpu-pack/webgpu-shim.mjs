// Stands in for the `webgpu` package inside the GPU pack's bundle: Dawn's binding is the dawn.node that
// scripts/gpu-pack.mjs puts beside bench.mjs (the package's own index.js finds it under dist/<platform>/).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { create, globals } = require('./dawn.node');

export { create, globals };
