// The trl plugin's data side: its section's options (the errors a user sees for bad values), its JSONL
// loader, and SFT and DPO formatting: which labels are -100 (exactly the prompt, or everything but the
// assistant turns), packing, the chat template given in the section, and the row errors.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Dataset, PluginConfig, Result, TokenizedRow, Tokenizer } from '../../src/core/index.js';
import { standaloneContext } from '../../src/core/index.js';
import { Trl, type PairRow } from '../../plugins/trl/index.js';
import { tempDir } from '../helpers.js';
import { validSection } from './section.js';

// A deterministic tokenizer: one id per character (code + 10), and the special tokens as single ids.
const SPECIAL: Record<string, number> = { '<s>': 1, '</s>': 2 };
const EOS = 2;

function enc(text: string): number[] {
  return text
    .split(/(<\/?s>)/)
    .flatMap((part) => (part in SPECIAL ? [SPECIAL[part]!] : [...part].map((c) => c.charCodeAt(0) + 10)));
}

function tokenizer(chatTemplate?: string): Tokenizer {
  return {
    vocabSize: 300,
    encode: (text) => enc(text),
    decode: (ids) => ids.map((id) => (id === EOS ? '</s>' : String.fromCharCode(id - 10))).join(''),
    eosTokenId: EOS,
    bosTokenId: 1,
    specialTokens: { bos_token: '<s>', eos_token: '</s>' },
    ...(chatTemplate ? { chatTemplate } : {}),
  };
}

// Each turn on its line; an assistant turn ends with EOS. Its generation prompt is the assistant header.
const TEMPLATE =
  "{% for m in messages %}{% if m.role == 'assistant' %}A: {{ m.content }}{{ eos_token }}\n" +
  '{% else %}{{ m.role }}: {{ m.content }}\n{% endif %}{% endfor %}{% if add_generation_prompt %}A:{% endif %}';

const masked = (text: string) => enc(text).map(() => -100);
const turn = (content: string, i: number) => ({ role: i % 2 ? 'assistant' : 'user', content });

/** The section as a run hands it to the hooks: validated, defaults filled in. */
function section(options: PluginConfig): PluginConfig {
  return validSection(Trl, options).unwrap();
}

async function format(rows: Record<string, unknown>[], options: PluginConfig, tok = tokenizer()) {
  const r = (await new Trl().hooks().dataset_formatter!(
    { train: rows },
    section(options),
    tok,
    standaloneContext('trl'),
  )) as Result<Dataset>;
  return r;
}

async function formatted(rows: Record<string, unknown>[], options: PluginConfig, tok = tokenizer()) {
  return (await format(rows, options, tok)).unwrap().train as TokenizedRow[];
}

async function formatError(rows: Record<string, unknown>[], options: PluginConfig, tok = tokenizer()) {
  const r = await format(rows, options, tok);
  if (r.ok) throw new Error('expected an error');
  return (r.error as Error).message;
}

describe('trl options', () => {
  // TRL's SFTConfig leaves assistant_only_loss off; the issue asks for it on by default for chat rows.
  it('fills in the defaults: sft, completion-only and assistant-only loss, no packing, beta 0.1', () => {
    expect(section({})).toEqual({
      method: 'sft',
      max_length: 1024,
      completion_only_loss: true,
      assistant_only_loss: true,
      packing: false,
      beta: 0.1,
      precompute_ref_log_probs: false,
      precompute_ref_batch_size: 8,
      disable_dropout: true,
    });
  });

  it.each([
    [{ method: 'ppo' }, 'trl.method: expected one of "sft", "dpo"'],
    [{ beta: 0 }, 'trl.beta: must be > 0'],
    [{ max_length: 0 }, 'trl.max_length: must be >= 1'],
    [{ packing: 'yes' }, 'trl.packing: expected boolean, got string "yes"'],
    [
      { chat_templat: 'x' },
      "trl: unknown field 'chat_templat' (expected one of: method, path, eval_path, max_length, chat_template, " +
        'completion_only_loss, assistant_only_loss, packing, beta, precompute_ref_log_probs, ' +
        'precompute_ref_batch_size, disable_dropout)',
    ],
  ])('refuses %j with the message a user sees', (options, message) => {
    const r = validSection(Trl, options as PluginConfig);
    expect(r.ok ? '' : (r.error as Error).message).toBe(message);
  });

  it('refuses an option of the other method, and eval_path without path', async () => {
    expect(await formatError([{ prompt: 'a', chosen: 'b', rejected: 'c' }], { method: 'dpo', packing: true })).toBe(
      'trl.packing: applies to method: sft only, and this section has method: dpo',
    );
    expect(await formatError([{ prompt: 'a', completion: 'b' }], { eval_path: 'x.jsonl' })).toBe(
      'trl.eval_path: set path too (eval_path is read only when trl loads the dataset itself)',
    );
  });
});

describe('trl SFT on prompt/completion rows', () => {
  it('masks exactly the prompt (completion_only_loss) and ends the completion with EOS', async () => {
    const [row] = await formatted([{ prompt: 'Q: 2+2?', completion: ' 4' }], {});
    expect(row!.input_ids).toEqual([...enc('Q: 2+2?'), ...enc(' 4'), EOS]);
    expect(row!.labels).toEqual([...masked('Q: 2+2?'), ...enc(' 4'), EOS]);
  });

  it('trains on the prompt too with completion_only_loss: false, and reads polars’ response field', async () => {
    const [row] = await formatted([{ prompt: 'Hi', response: ' there' }], { completion_only_loss: false });
    expect(row!.labels).toEqual([...enc('Hi there'), EOS]);
  });

  it('renders conversational prompt/completion rows with the chat template and masks the prompt', async () => {
    const [row] = await formatted(
      [
        {
          prompt: [{ role: 'user', content: 'hi' }],
          completion: [{ role: 'assistant', content: 'yo' }],
        },
      ],
      { chat_template: TEMPLATE },
    );
    expect(row!.input_ids).toEqual(enc('user: hi\nA: yo</s>\n'));
    expect(row!.labels).toEqual([...masked('user: hi\nA:'), ...enc(' yo</s>\n')]);
  });

  it('packs into sequences of exactly max_length, keeping the masks', async () => {
    const rows = await formatted(
      [
        { prompt: 'ab', completion: 'cd' },
        { prompt: 'ef', completion: 'gh' },
      ],
      { packing: true, max_length: 4 },
    );
    expect(rows.map((r) => r.input_ids)).toEqual([enc('abcd'), [EOS, ...enc('efg')]]);
    expect(rows.map((r) => r.labels)).toEqual([
      [-100, -100, ...enc('cd')],
      [EOS, -100, -100, ...enc('g')],
    ]);
  });
});

describe('trl SFT on chat rows', () => {
  // A system message, then user and assistant by turns.
  const chat = [{ role: 'system', content: 'be nice' }, ...['hi', 'hello', 'bye', 'ciao'].map(turn)];

  it('trains on the assistant turns only (assistant_only_loss), with the section’s chat_template', async () => {
    const [row] = await formatted([{ messages: chat }], { chat_template: TEMPLATE });
    expect(row!.input_ids).toEqual(enc('system: be nice\nuser: hi\nA: hello</s>\nuser: bye\nA: ciao</s>\n'));
    expect(row!.labels).toEqual([
      ...masked('system: be nice\nuser: hi\nA:'),
      ...enc(' hello</s>\n'),
      ...masked('user: bye\nA:'),
      ...enc(' ciao</s>\n'),
    ]);
  });

  it('uses the tokenizer’s own chat template, and trains on every token with assistant_only_loss: false', async () => {
    const [row] = await formatted([{ messages: chat }], { assistant_only_loss: false }, tokenizer(TEMPLATE));
    expect(row!.labels).toEqual(row!.input_ids);
  });

  it('says which option to set when there is no chat template', async () => {
    expect(await formatError([{ messages: chat }], {})).toBe(
      'trl.chat_template: chat (messages) rows need a chat template, and the tokenizer has none ' +
        '(tokenizer_config.json chat_template): set chat_template to a Jinja template',
    );
    expect(await formatError([{ messages: chat }], { chat_template: '{% for m in messages %}' })).toMatch(
      /^trl\.chat_template: syntax error: /,
    );
  });
});

describe('trl SFT row errors', () => {
  it('names the row and its fields when a row is neither prompt/completion nor chat', async () => {
    expect(await formatError([{ prompt: 'a', completion: 'b' }, { text: 'c' }], {})).toBe(
      "train row 1: no 'prompt' and 'completion' fields, and no 'messages' field (the row has: text)",
    );
    expect(await formatError([{ prompt: 'a' }], {})).toBe(
      "train row 0: no 'prompt' and 'completion' fields, and no 'messages' field (the row has: prompt)",
    );
  });

  it('refuses a prompt and completion of different kinds, and a dataset of two kinds', async () => {
    expect(await formatError([{ prompt: 'a', completion: [{ role: 'assistant', content: 'b' }] }], {})).toBe(
      "train row 0: 'prompt' and 'completion' must be two strings or two lists of {role, content} messages",
    );
    const rows = [{ prompt: 'a', completion: 'b' }, { messages: [{ role: 'user', content: 'c' }] }];
    expect(await formatError(rows, { chat_template: TEMPLATE })).toBe(
      'train row 1: a chat (messages) row in a dataset of prompt/completion rows (as train row 0): a dataset ' +
        'holds one kind of rows',
    );
  });
});

describe('trl DPO formatting', () => {
  async function pairs(rows: Record<string, unknown>[], options: PluginConfig = {}, tok = tokenizer()) {
    return (await formatted(rows, { method: 'dpo', ...options }, tok)) as PairRow[];
  }

  it('gives one row per pair: prompt + chosen and prompt + rejected, the prompt masked, each ending with EOS', async () => {
    const [row] = await pairs([{ prompt: 'Q?', chosen: ' yes', rejected: ' no' }]);
    expect(row!.input_ids).toEqual([...enc('Q? yes'), EOS]);
    expect(row!.labels).toEqual([...masked('Q?'), ...enc(' yes'), EOS]);
    expect(row!.rejected_input_ids).toEqual([...enc('Q? no'), EOS]);
    expect(row!.rejected_labels).toEqual([...masked('Q?'), ...enc(' no'), EOS]);
  });

  it('renders message lists with the chat template: the prompt with the generation prompt, masked', async () => {
    const [row] = await pairs(
      [
        {
          prompt: [{ role: 'user', content: 'hi' }],
          chosen: [{ role: 'assistant', content: 'hey' }],
          rejected: [{ role: 'assistant', content: 'no' }],
        },
      ],
      { chat_template: TEMPLATE },
    );
    // EOS after each completion, as TRL appends it, also after the chat template's own end of turn.
    expect(row!.labels).toEqual([...masked('user: hi\nA:'), ...enc(' hey</s>\n'), EOS]);
    expect(row!.rejected_input_ids).toEqual([...enc('user: hi\nA: no</s>\n'), EOS]);
  });

  it('names the row and the field that is missing or of the wrong kind', async () => {
    expect(await formatError([{ prompt: 'a', chosen: 'b' }], { method: 'dpo' })).toBe(
      "train row 0: missing field 'rejected' (the row has: prompt, chosen)",
    );
    expect(await formatError([{ prompt: 'a', chosen: 'b', rejected: 3 }], { method: 'dpo' })).toBe(
      "train row 0: 'prompt', 'chosen' and 'rejected' must be three strings or three lists of {role, content} messages",
    );
  });

  it('says to raise max_length when the prompt leaves nothing of an answer', async () => {
    expect(
      await formatError([{ prompt: 'a long prompt', chosen: 'b', rejected: 'c' }], { method: 'dpo', max_length: 5 }),
    ).toBe(
      'trl.max_length: train row 0: the prompt fills all 5 tokens, nothing of the chosen answer is left; raise max_length',
    );
  });
});

describe('trl’s own loader (trl.path)', () => {
  const load = (options: PluginConfig, configDir: string) =>
    new Trl().hooks().dataset_loader!(section(options), undefined, standaloneContext('trl', { configDir }));

  it('reads every field of each JSONL row, relative to the config’s folder, and the eval file', async () => {
    const dir = tempDir();
    writeFileSync(
      path.join(dir, 'p.jsonl'),
      '{"prompt":"a","chosen":"b","rejected":"c"}\n\n{"prompt":"d","chosen":"e","rejected":"f"}\n',
    );
    writeFileSync(path.join(dir, 'e.jsonl'), '{"prompt":"g","chosen":"h","rejected":"i"}\n');
    const data = ((await load({ path: 'p.jsonl', eval_path: 'e.jsonl' }, dir)) as Result<Dataset>).unwrap();
    expect(data.train).toEqual([
      { prompt: 'a', chosen: 'b', rejected: 'c' },
      { prompt: 'd', chosen: 'e', rejected: 'f' },
    ]);
    expect(data.eval).toHaveLength(1);
    expect(data.info?.()).toEqual({ rows: 2, evalRows: 1, columns: ['prompt', 'chosen', 'rejected'] });
  });

  it('names the file and line of a bad row, and leaves the loading to another plugin without path', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'p.jsonl'), '{"prompt":"a"}\n{"prompt":\n');
    const bad = (await load({ path: 'p.jsonl' }, dir)) as Result<Dataset>;
    expect(bad.ok ? '' : (bad.error as Error).message).toMatch(/^trl\.path: p\.jsonl line 2: not JSON \(/);
    const none = (await load({}, dir)) as Result<Dataset>;
    expect(none.ok ? '' : (none.error as Error).message).toBe(
      'trl.path is not set: the dataset comes from another dataset_loader (polars)',
    );
  });
});
