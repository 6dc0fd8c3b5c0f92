// The Hugging Face files of the quickstart: tokenizer.json and tokenizer_config.json (GPT-2's layout), the
// model's config.json (with its parameter count), and the folder's README.md. Imported and re-exported by
// scripts/make-quickstart.mjs.
import { SPECIAL_ID, SPECIAL_TOKEN, VOCAB_SIZE } from './bpe.mjs';

/**
 * tokenizer.json in the layout of GPT-2's (the `tokenizers` library's format, which transformers.js reads):
 * the vocabulary written in id order, merges as "left right" strings.
 * @param {string[]} vocab
 * @param {[string, string][]} merges
 */
export function tokenizerJson(vocab, merges) {
  const special = { id: SPECIAL_ID, content: SPECIAL_TOKEN, single_word: false, lstrip: false, rstrip: false };
  const doc = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ ...special, normalized: true, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab: '@VOCAB@',
      merges: merges.map(([l, r]) => `${l} ${r}`),
    },
  };
  // JSON objects with integer-like keys ("0".."9") would be reordered by JS; write the vocabulary by hand.
  const entries = [...vocab, SPECIAL_TOKEN].map((t, i) => `      ${JSON.stringify(t)}: ${i}`).join(',\n');
  return JSON.stringify(doc, null, 2).replace('"@VOCAB@"', `{\n${entries}\n    }`) + '\n';
}

/** tokenizer_config.json, after GPT-2's; decoding keeps spaces as they are (no clean-up: lossless). */
export function tokenizerConfig() {
  const doc = {
    tokenizer_class: 'GPT2Tokenizer',
    model_max_length: 128,
    bos_token: SPECIAL_TOKEN,
    eos_token: SPECIAL_TOKEN,
    unk_token: SPECIAL_TOKEN,
    add_bos_token: false,
    add_prefix_space: false,
    clean_up_tokenization_spaces: false,
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

/** The quickstart model: a GPT-2 small enough to train on a CPU in minutes. */
export const MODEL_CONFIG = {
  architectures: ['GPT2LMHeadModel'],
  model_type: 'gpt2',
  vocab_size: VOCAB_SIZE,
  n_positions: 128,
  n_embd: 64,
  n_layer: 4,
  n_head: 4,
  n_inner: null,
  activation_function: 'gelu_new',
  resid_pdrop: 0.0,
  embd_pdrop: 0.0,
  attn_pdrop: 0.0,
  layer_norm_epsilon: 1e-5,
  initializer_range: 0.02,
  bos_token_id: SPECIAL_ID,
  eos_token_id: SPECIAL_ID,
  tie_word_embeddings: true,
};

/**
 * Parameters of a GPT-2 config (lm_head tied to wte): embeddings, per block 2 layer norms, attention
 * (c_attn d×3d, c_proj d×d) and MLP (c_fc d×inner, c_proj inner×d) with biases, and the final layer norm.
 * @param {{ vocab_size: number, n_positions: number, n_embd: number, n_layer: number, n_inner?: number | null }} config
 */
export function gpt2Parameters(config) {
  const d = config.n_embd;
  const inner = config.n_inner ?? 4 * d;
  const block = 2 * (2 * d) + (d * 3 * d + 3 * d) + (d * d + d) + (d * inner + inner) + (inner * d + d);
  return config.vocab_size * d + config.n_positions * d + config.n_layer * block + 2 * d;
}

/** The config as prettier would print it (arrays that fit on one line). */
export const configJson = () =>
  JSON.stringify(MODEL_CONFIG, null, 2)
    .replace(/\[\n\s+("[^"]*")\n\s+\]/g, '[$1]')
    .replace(/: 0(,?)$/gm, ': 0.0$1')
    .replace(': 0.00001,', ': 1e-5,') + '\n';

/**
 * @param {{ stories: number, storyBytes: number, evalStories: number, evalBytes: number, merges: number,
 *   tokensPerStory: number, bytesPerToken: number, parameters: number }} s
 */
export function readme(s) {
  return `# Quickstart assets

Made by \`node scripts/make-quickstart.mjs\` (deterministic: running it again rewrites the same bytes). Nothing
here is downloaded; the stories and the tokenizer are the project's own.

- \`data/stories.jsonl\`: ${s.stories} generated stories (${s.storyBytes} bytes), one \`{"text": ...}\` a line:
  simple English stories from templates and word lists (ten plots, each with a beginning, a problem and an
  ending), paragraphs separated by a blank line.
- \`data/eval.jsonl\`: ${s.evalStories} held-out stories (${s.evalBytes} bytes), from another seed.
- \`tokenizer/\`: a byte-level BPE tokenizer (GPT-2 style) trained on \`stories.jsonl\`, in the Hugging Face
  \`tokenizers\` format (\`tokenizer.json\`, \`tokenizer_config.json\`): ${VOCAB_SIZE} tokens, that is 256 byte
  tokens, ${s.merges} merges, and \`${SPECIAL_TOKEN}\` (id ${SPECIAL_ID}: bos, eos and unk). On the stories it
  makes ${s.tokensPerStory.toFixed(1)} tokens a story, ${s.bytesPerToken.toFixed(2)} bytes a token.
- \`model/\`: a Hugging Face GPT-2 folder without weights (\`config.json\` and the tokenizer files): 4 layers,
  4 heads, width 64, 128 positions, tied embeddings, ${s.parameters} parameters. Training starts from the config
  (\`init: from_config\`), as in \`resources/examples/quickstart.yaml\`.
`;
}
