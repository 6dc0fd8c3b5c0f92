/**
 * The model shapes the benchmark trains (`--quick`: reduced ones that run in a few minutes), as Hugging Face
 * configs. GPT-2 124M is marked GPU-only: a CPU backend would take hours.
 */

import type { HFConfig } from '../engine/index.js';

export interface Shape {
  id: string;
  name: string;
  config: HFConfig;
  seq: number;
  batch: number;
  /** Too slow for a CPU backend (hours): run only on GPUs unless asked for by id. */
  gpuOnly?: boolean;
}

const gpt2 = (layers: number, d: number, heads: number, vocab: number, positions: number): HFConfig => ({
  architectures: ['GPT2LMHeadModel'],
  model_type: 'gpt2',
  n_layer: layers,
  n_embd: d,
  n_head: heads,
  vocab_size: vocab,
  n_positions: positions,
  layer_norm_epsilon: 1e-5,
  activation_function: 'gelu_new',
  resid_pdrop: 0,
  embd_pdrop: 0,
  attn_pdrop: 0,
});

const neo = (layers: number, d: number, heads: number, vocab: number): HFConfig => ({
  architectures: ['GPTNeoForCausalLM'],
  model_type: 'gpt_neo',
  num_layers: layers,
  hidden_size: d,
  num_heads: heads,
  vocab_size: vocab,
  max_position_embeddings: 2048,
  attention_types: [[['global', 'local'], layers / 2]],
  window_size: 256,
  intermediate_size: null,
  layer_norm_epsilon: 1e-5,
  activation_function: 'gelu_new',
  embed_dropout: 0,
  attention_dropout: 0,
  resid_dropout: 0,
});

const llama = (layers: number, d: number, heads: number, kvHeads: number, inter: number, vocab: number): HFConfig => ({
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  num_hidden_layers: layers,
  hidden_size: d,
  num_attention_heads: heads,
  num_key_value_heads: kvHeads,
  intermediate_size: inter,
  vocab_size: vocab,
  max_position_embeddings: 2048,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: false,
});

export function shapes(quick: boolean): Shape[] {
  if (quick) {
    return [
      {
        id: 'tinystories-1m',
        name: 'TinyStories-1M (GPT-Neo) @ seq 64, batch 2',
        config: neo(8, 64, 16, 50257),
        seq: 64,
        batch: 2,
      },
      {
        id: 'gpt2-mini',
        name: 'GPT-2 mini (3 of 6 layers) @ seq 32, batch 1',
        config: gpt2(3, 384, 6, 50257, 1024),
        seq: 32,
        batch: 1,
      },
      {
        id: 'llama-small',
        name: 'small Llama @ seq 64, batch 2',
        config: llama(4, 128, 4, 2, 352, 4096),
        seq: 64,
        batch: 2,
      },
    ];
  }
  return [
    {
      id: 'tinystories-1m',
      name: 'TinyStories-1M (GPT-Neo, 8 layers, d=64, 16 heads) @ seq 256, batch 8',
      config: neo(8, 64, 16, 50257),
      seq: 256,
      batch: 8,
    },
    {
      id: 'gpt2-mini',
      name: 'GPT-2 mini (6 layers, d=384, 6 heads) @ seq 256, batch 8',
      config: gpt2(6, 384, 6, 50257, 1024),
      seq: 256,
      batch: 8,
    },
    {
      id: 'llama-small',
      name: 'small Llama (4 layers, d=256, 8/4 heads, vocab 32000) @ seq 256, batch 8',
      config: llama(4, 256, 8, 4, 688, 32000),
      seq: 256,
      batch: 8,
    },
    {
      id: 'gpt2-124m',
      name: 'GPT-2 124M (12 layers, d=768, 12 heads) @ seq 512, batch 8',
      config: gpt2(12, 768, 12, 50257, 1024),
      seq: 512,
      batch: 8,
      gpuOnly: true,
    },
  ];
}
