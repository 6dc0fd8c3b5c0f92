/**
 * `dumbo/engine`: the training runtime on TensorFlow.js — backend choice, the GPT-2 / GPT-Neo / Llama
 * architectures, safetensors, Hugging Face folders and hub cache, tokenizers, the data pipeline, the
 * optimizer, the training loop, checkpoints and generation. Node only.
 *
 * Imports core (never Electron or UI code). Used by the built-in engine plugins (transformers,
 * transformers_trainer), the run host and the CLI; third-party plugins may import it as 'dumbo/engine'.
 */

export * from './backend.js';
export { webgpuDispatches } from './webgpu.js';
export * from './models/index.js';
export type * from './models/types.js';
export * from './kernels/registry.js';
export type { AttentionOptions } from './kernels/attention.js';
export * from './loss.js';
export * from './generate.js';
export * from './safetensors.js';
export * from './pretrained.js';
export * from './tokenizer.js';
export * from './hub.js';
export * from './data.js';
export * from './optim.js';
export * from './checkpoint.js';
export * from './trainer.js';
export * from './fused/index.js';
export * from './lora.js';
export { tf };
import * as tf from '@tensorflow/tfjs-core';
