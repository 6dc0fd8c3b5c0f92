import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Interpreter, Template } from '@huggingface/jinja';
import { Ajv } from 'ajv';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  standaloneContext,
  type Dataset,
  type PluginConfig,
  type Result,
  type TokenizedRow,
  type Tokenizer,
} from '../../src/core/index.js';
import { JinjaFormatter, pack } from '../../plugins/jinja_formatter/index.js';
import { repoRoot } from '../helpers.js';
import { validSection } from './section.js';

// A deterministic tokenizer: one id per character (code + 10), and special tokens as single ids.
const SPECIAL: Record<string, number> = { '<s>': 1, '</s>': 2, '<|im_start|>': 3, '<|im_end|>': 4 };
const BOS = 1;
const EOS = 2;

/** The fake tokenizer's ids of `text`, without special tokens added. */
function enc(text: string): number[] {
  const ids: number[] = [];
  let i = 0;
  while (i < text.length) {
    const special = Object.keys(SPECIAL).find((s) => text.startsWith(s, i));
    if (special) {
      ids.push(SPECIAL[special]!);
      i += special.length;
    } else {
      ids.push(text.charCodeAt(i) + 10);
      i += 1;
    }
  }
  return ids;
}

function fakeTokenizer(options: { addsBos?: boolean; chatTemplate?: string; eos?: boolean } = {}): Tokenizer {
  const names = Object.fromEntries(Object.entries(SPECIAL).map(([s, id]) => [id, s]));
  const hasEos = options.eos ?? true;
  return {
    vocabSize: 300,
    encode: (text, o) => [...(options.addsBos && (o?.addSpecialTokens ?? true) ? [BOS] : []), ...enc(text)],
    decode: (ids) => ids.map((id) => names[id] ?? String.fromCharCode(id - 10)).join(''),
    bosTokenId: BOS,
    ...(hasEos ? { eosTokenId: EOS } : {}),
    specialTokens: { bos_token: '<s>', ...(hasEos ? { eos_token: '</s>' } : {}) },
    ...(options.chatTemplate ? { chatTemplate: options.chatTemplate } : {}),
  };
}

/** A ChatML template as Qwen2 ships it (a default system prompt when the chat has none). */
const CHATML =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}" +
  "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}" +
  "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const masked = (text: string) => enc(text).map(() => -100);

async function format(
  train: Record<string, unknown>[],
  config: PluginConfig = {},
  tokenizer: Tokenizer | undefined = fakeTokenizer(),
  evalRows?: Record<string, unknown>[],
): Promise<Result<Dataset>> {
  const dataset: Dataset = { train, ...(evalRows ? { eval: evalRows } : {}) };
  const section = validSection(JinjaFormatter, config);
  if (!section.ok) return section;
  return new JinjaFormatter().formatDataset(dataset, section.value, tokenizer);
}

async function rowsOf(...args: Parameters<typeof format>): Promise<TokenizedRow[]> {
  return (await format(...args)).unwrap().train as TokenizedRow[];
}

async function errorOf(...args: Parameters<typeof format>): Promise<string> {
  const r = await format(...args);
  if (r.ok) throw new Error('expected an error');
  return r.error.message;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('jinja_formatter: metadata', () => {
  it('declares its section, capability and a schema whose defaults ajv fills in', () => {
    expect(JinjaFormatter.configKey).toBe('formatter');
    expect(JinjaFormatter.provides).toEqual(['dataset_formatter']);
    const props = JinjaFormatter.configSchema.properties as Record<string, { description?: string }>;
    for (const [key, p] of Object.entries(props)) expect(p.description, key).toBeTruthy();
    const section: Record<string, unknown> = {};
    const validate = new Ajv({ strict: false, useDefaults: true }).compile(JinjaFormatter.configSchema);
    expect(validate(section)).toBe(true);
    expect(section).toEqual({
      use_chat_template: false,
      text_field: 'text',
      prompt_field: 'prompt',
      response_field: 'response',
      messages_field: 'messages',
      mask_prompt: true,
      max_length: 256,
      truncation: 'truncate',
      packing: false,
    });
    expect(validate({ truncation: 'cut' })).toBe(false);
    expect(validate({ max_lenght: 10 })).toBe(false);
  });
});

describe('jinja_formatter: text rows', () => {
  it('tokenizes the text as is and ends it with EOS; every label is kept', async () => {
    const rows = await rowsOf([{ text: 'hi' }, { text: 'abc' }]);
    expect(rows).toEqual([
      { input_ids: [...enc('hi'), EOS], labels: [...enc('hi'), EOS] },
      { input_ids: [...enc('abc'), EOS], labels: [...enc('abc'), EOS] },
    ]);
  });

  it('puts BOS first (label -100) when the tokenizer adds it, and follows add_bos / add_eos', async () => {
    const llamaLike = fakeTokenizer({ addsBos: true });
    expect(await rowsOf([{ text: 'hi' }], {}, llamaLike)).toEqual([
      { input_ids: [BOS, ...enc('hi'), EOS], labels: [-100, ...enc('hi'), EOS] },
    ]);
    expect(await rowsOf([{ text: 'hi' }], { add_bos: false, add_eos: false }, llamaLike)).toEqual([
      { input_ids: enc('hi'), labels: enc('hi') },
    ]);
    expect(await rowsOf([{ text: 'hi' }], { add_bos: true }, fakeTokenizer())).toEqual([
      { input_ids: [BOS, ...enc('hi'), EOS], labels: [-100, ...enc('hi'), EOS] },
    ]);
    // No EOS token: nothing is added by default.
    expect(await rowsOf([{ text: 'hi' }], {}, fakeTokenizer({ eos: false }))).toEqual([
      { input_ids: enc('hi'), labels: enc('hi') },
    ]);
    // A text that already ends with EOS does not get a second one.
    expect((await rowsOf([{ text: 'hi</s>' }]))[0]!.input_ids).toEqual([...enc('hi'), EOS]);
  });

  it('reads text_field, and keeps the input info while adding the formatted stats', async () => {
    const dataset: Dataset = {
      train: [{ body: 'abcd' }, { body: 'xy' }],
      eval: [{ body: 'q' }],
      info: () => ({ rows: 2, evalRows: 1, columns: ['body'], source: 'data.jsonl' }),
    };
    const out = (
      await new JinjaFormatter().formatDataset(
        dataset,
        validSection(JinjaFormatter, { text_field: 'body' }).unwrap(),
        fakeTokenizer(),
      )
    ).unwrap();
    expect(out.eval).toEqual([{ input_ids: [...enc('q'), EOS], labels: [...enc('q'), EOS] }]);
    expect(out.info!()).toEqual({
      rows: 2,
      evalRows: 1,
      columns: ['body'],
      source: 'data.jsonl',
      formatted: {
        mode: ['text'],
        maxLength: 256,
        packing: false,
        train: {
          examples: 2,
          truncated: 0,
          dropped: 0,
          empty: 0,
          sequences: 2,
          packedSequences: 0,
          tokens: 8,
          packingDroppedTokens: 0,
          maskedFraction: 0,
        },
        eval: {
          examples: 1,
          truncated: 0,
          dropped: 0,
          empty: 0,
          sequences: 1,
          packedSequences: 0,
          tokens: 2,
          packingDroppedTokens: 0,
          maskedFraction: 0,
        },
      },
    });
  });
});

describe('jinja_formatter: prompt/response rows', () => {
  const template = '### Question: {{ prompt }}\n### Answer: ';

  it('renders the prompt with the template, appends the response, and masks exactly the prompt', async () => {
    const [row] = await rowsOf([{ prompt: 'What is 2+2?', response: '4.' }], { template });
    const prompt = '### Question: What is 2+2?\n### Answer: ';
    expect(row).toEqual({
      input_ids: [...enc(prompt), ...enc('4.'), EOS],
      labels: [...masked(prompt), ...enc('4.'), EOS],
    });
    expect(row!.labels.filter((l) => l === -100)).toHaveLength(prompt.length);
  });

  it('trains on the prompt too with mask_prompt: false', async () => {
    const [row] = await rowsOf([{ prompt: 'Q', response: 'A' }], { template, mask_prompt: false });
    const ids = [...enc('### Question: Q\n### Answer: A'), EOS];
    expect(row).toEqual({ input_ids: ids, labels: ids });
  });

  it('without a template uses the prompt field as is; field names are configurable', async () => {
    const [row] = await rowsOf([{ question: 'Q? ', answer: 'A' }], {
      prompt_field: 'question',
      response_field: 'answer',
    });
    expect(row).toEqual({ input_ids: [...enc('Q? '), ...enc('A'), EOS], labels: [-100, -100, -100, ...enc('A'), EOS] });
  });

  it("gives the template every field but the response, the tokenizer's special tokens, and Jinja's globals", async () => {
    const [row] = await rowsOf([{ instruction: 'Add', input: '1 2', response: '3' }], {
      template:
        "{{ bos_token }}{{ instruction | upper }}{% if input %} ({{ input }}){% endif %}{{ hint | default('') }}: ",
    });
    const prompt = '<s>ADD (1 2): ';
    expect(row).toEqual({
      input_ids: [...enc(prompt), ...enc('3'), EOS],
      labels: [...masked(prompt), ...enc('3'), EOS],
    });
    // A field tested with `is defined` may be missing.
    const [other] = await rowsOf([{ prompt: 'p', response: 'r' }], {
      template: '{% if context is defined %}{{ context }}{% endif %}{{ prompt }}',
    });
    expect(other!.input_ids).toEqual([...enc('p'), ...enc('r'), EOS]);
  });
});

describe('jinja_formatter: chat rows', () => {
  const chat = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi' },
    { role: 'assistant', content: 'Hello!' },
    { role: 'user', content: '2+2?' },
    { role: 'assistant', content: '4' },
  ];
  const tokenizer = fakeTokenizer({ chatTemplate: CHATML });

  it('masks everything but the assistant turns (with their end-of-turn marker)', async () => {
    const [row] = await rowsOf([{ messages: chat }], {}, tokenizer);
    const pieces: [string, boolean][] = [
      ['<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n', false],
      ['Hello!<|im_end|>\n', true],
      ['<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n', false],
      ['4<|im_end|>\n', true],
    ];
    expect(row).toEqual({
      input_ids: pieces.flatMap(([text]) => enc(text)),
      labels: pieces.flatMap(([text, train]) => (train ? enc(text) : masked(text))),
    });
    // The chat template writes the turn ends: no BOS/EOS added by default.
    expect(tokenizer.decode(row!.input_ids)).toBe(new Template(CHATML).render({ messages: chat }));
  });

  it('trains on the whole conversation with mask_prompt: false', async () => {
    const [row] = await rowsOf([{ messages: chat }], { mask_prompt: false, add_eos: true }, tokenizer);
    const ids = [...enc(new Template(CHATML).render({ messages: chat })), EOS];
    expect(row).toEqual({ input_ids: ids, labels: ids });
  });

  it('template: chat turns prompt/response rows into a user and an assistant message', async () => {
    const [row] = await rowsOf([{ prompt: 'Hi', response: 'Yo' }], { template: 'chat' }, tokenizer);
    const prompt =
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n';
    expect(row).toEqual({
      input_ids: [...enc(prompt), ...enc('Yo<|im_end|>\n')],
      labels: [...masked(prompt), ...enc('Yo<|im_end|>\n')],
    });
    expect(await rowsOf([{ prompt: 'Hi', response: 'Yo' }], { use_chat_template: true }, tokenizer)).toEqual([row]);
  });
});

describe('jinja_formatter: length', () => {
  it('truncates long examples to max_length, or drops them, and counts both', async () => {
    const rows = [{ text: 'abcdefgh' }, { text: 'ab' }, { text: 'abcdef' }];
    const cut = (await format(rows, { max_length: 5 })).unwrap();
    expect(cut.train).toEqual([
      { input_ids: enc('abcde'), labels: enc('abcde') },
      { input_ids: [...enc('ab'), EOS], labels: [...enc('ab'), EOS] },
      { input_ids: enc('abcde'), labels: enc('abcde') },
    ]);
    expect(cut.info!().formatted).toMatchObject({ train: { examples: 3, truncated: 2, dropped: 0, tokens: 13 } });

    const dropped = (await format(rows, { max_length: 5, truncation: 'drop' })).unwrap();
    expect(dropped.train).toEqual([{ input_ids: [...enc('ab'), EOS], labels: [...enc('ab'), EOS] }]);
    expect(dropped.info!().formatted).toMatchObject({ train: { examples: 1, truncated: 0, dropped: 2, tokens: 3 } });
    // max_length counts BOS and EOS too: 'abcd' + EOS fits in 5.
    expect((await format([{ text: 'abcd' }], { max_length: 5, truncation: 'drop' })).unwrap().train).toHaveLength(1);
  });

  it('packs examples into sequences of exactly max_length, in order, masks kept, long ones wrapped, the tail dropped', async () => {
    const rows = [
      { prompt: 'P1', response: 'r1' },
      { prompt: 'Prompt2', response: 'resp2' },
      { prompt: 'P3', response: 'r3' },
      { prompt: 'P4', response: 'r4' },
    ];
    const out = (await format(rows, { max_length: 7, packing: true })).unwrap();
    const train = out.train as TokenizedRow[];
    const allIds = rows.flatMap((r) => [...enc(r.prompt), ...enc(r.response), EOS]);
    const allLabels = rows.flatMap((r) => [...masked(r.prompt), ...enc(r.response), EOS]);
    expect(allIds).toHaveLength(28);
    expect(train).toHaveLength(4);
    for (const r of train) {
      expect(r.input_ids).toHaveLength(7);
      expect(r.labels).toHaveLength(7);
    }
    expect(train.flatMap((r) => r.input_ids)).toEqual(allIds);
    expect(train.flatMap((r) => r.labels)).toEqual(allLabels);
    expect(out.info!().formatted).toMatchObject({
      packing: true,
      train: {
        examples: 4,
        sequences: 4,
        packedSequences: 4,
        tokens: 28,
        packingDroppedTokens: 0,
        maskedFraction: 13 / 28,
      },
    });

    // truncation: drop still leaves out the 13-token example: 15 tokens, two sequences, 1 token dropped.
    const noLong = (await format(rows, { max_length: 7, packing: true, truncation: 'drop' })).unwrap();
    expect((noLong.train as TokenizedRow[]).flatMap((r) => r.input_ids)).toEqual([
      ...allIds.slice(0, 5),
      ...allIds.slice(18, 27),
    ]);
    expect(noLong.info!().formatted).toMatchObject({
      train: { examples: 3, dropped: 1, truncated: 0, packedSequences: 2, packingDroppedTokens: 1 },
    });

    // 28 tokens in sequences of 6: four sequences, the last 4 tokens are dropped.
    const tail = (await format(rows, { max_length: 6, packing: true })).unwrap();
    expect((tail.train as TokenizedRow[]).flatMap((r) => r.input_ids)).toEqual(allIds.slice(0, 24));
    expect((tail.train as TokenizedRow[]).flatMap((r) => r.labels)).toEqual(allLabels.slice(0, 24));
    expect(tail.info!().formatted).toMatchObject({
      train: { packedSequences: 4, tokens: 24, packingDroppedTokens: 4 },
    });
  });

  it('pack() keeps every token and cuts at exact boundaries', () => {
    const ex = [
      { ids: [1, 2, 3], labels: [-100, 2, 3] },
      { ids: [4, 5], labels: [4, -100] },
    ];
    expect(pack(ex, 2)).toEqual({
      rows: [
        { input_ids: [1, 2], labels: [-100, 2] },
        { input_ids: [3, 4], labels: [3, 4] },
      ],
      droppedTokens: 1,
    });
  });
});

describe('jinja_formatter: the estimate', () => {
  it('answers the longest sequence it makes (max_length), and nothing without one', async () => {
    const hooks = new JinjaFormatter().hooks();
    const ctx = standaloneContext('jinja_formatter');
    const facts = { trainRows: async () => 0 };
    const withMax = (await hooks.estimate!(facts, { max_length: 48 }, ctx)).unwrap();
    expect(withMax.maxLength).toBe(48);
    expect((await hooks.estimate!(facts, {}, ctx)).unwrap().maxLength).toBeUndefined();
  });
});

describe('jinja_formatter: errors', () => {
  it('needs a tokenizer', async () => {
    const r = await new JinjaFormatter().formatDataset({ train: [{ text: 'x' }] }, {}, undefined);
    expect(r.ok ? '' : r.error.message).toBe(
      'jinja_formatter needs a tokenizer: add a tokenizer_loader plugin (transformers) to plugins:',
    );
  });

  it('names the row and the missing or mistyped field', async () => {
    expect(await errorOf([{ text: 'ok' }, { body: 'x', id: 1 }])).toBe(
      "train row 1: no 'text', 'prompt'/'response' or 'messages' field (the row has: body, id)",
    );
    expect(await errorOf([{ prompt: 'p', response: 'r' }], {}, fakeTokenizer(), [{ prompt: 'p' }])).toBe(
      "eval row 0: missing field 'response' (the row has: prompt)",
    );
    expect(await errorOf([{ response: 'r' }])).toBe("train row 0: missing field 'prompt' (the row has: response)");
    expect(await errorOf([{ prompt: 'p', response: 4 }])).toBe(
      "train row 0: field 'response' must be a string, got a number",
    );
    expect(await errorOf([{ text: null }])).toBe("train row 0: field 'text' must be a string, got null");
    expect(await errorOf([{ text: 'a' }, 'b' as unknown as Record<string, unknown>])).toBe(
      'train row 1: a row must be an object of fields, got a string',
    );
  });

  it('names a field the template uses that the row lacks, and refuses a template that renders the response', async () => {
    const template = 'Context: {{ context }}\nQ: {{ prompt }}\nA: ';
    expect(
      await errorOf(
        [
          { context: 'c', prompt: 'p', response: 'r' },
          { prompt: 'p', response: 'r' },
        ],
        { template },
      ),
    ).toBe(
      "formatter.template: train row 1: missing field 'context' used by the template (the row has: prompt, response); " +
        "write {{ context | default('') }} for an optional field",
    );
    expect(await errorOf([{ prompt: 'p', response: 'r' }], { template: '{{ prompt }} {{ response }}' })).toBe(
      "formatter.template: train row 0: the template uses 'response', the response field: the template renders the prompt only and the response is appended after it",
    );
  });

  it('reports a template syntax error with its line', async () => {
    expect(await errorOf([{ prompt: 'p', response: 'r' }], { template: 'Q: {{ prompt }}\nA: {{ prompt + }}\n' })).toBe(
      'formatter.template: syntax error at line 2: Unexpected token: CloseExpression',
    );
    expect(await errorOf([{ prompt: 'p', response: 'r' }], { template: 'x\n{% if prompt %}\n{{ prompt }}\n' })).toBe(
      'formatter.template: syntax error at line 2: unexpected end of template (a block or expression is not closed)',
    );
    expect(await errorOf([{ prompt: 'p', response: 'r' }], { template: 'a\nb\n{{ prompt @ }}' })).toBe(
      'formatter.template: syntax error at line 3: Unexpected character: @',
    );
    expect(
      await errorOf(
        [{ messages: [{ role: 'user', content: 'x' }] }],
        {},
        fakeTokenizer({ chatTemplate: '{% for m in messages %}\n{{ m.content }' }),
      ),
    ).toBe(
      "train row 0: the tokenizer's chat template: syntax error at line 2: " +
        'Parser Error: Expected closing expression token. CloseCurlyBracket !== CloseExpression.',
    );
  });

  it('reports errors raised while rendering, and a render that is not a string', async () => {
    expect(
      await errorOf([{ prompt: 'p', response: 'r' }], { template: '{{ raise_exception("prompt too short") }}' }),
    ).toBe('formatter.template: train row 0: template error: prompt too short');
    vi.spyOn(Interpreter.prototype, 'run').mockReturnValueOnce({ type: 'IntegerValue', value: 5 } as never);
    expect(await errorOf([{ prompt: 'p', response: 'r' }], { template: '{{ prompt }}' })).toBe(
      'formatter.template: train row 0: the template rendered IntegerValue, not a string',
    );
    vi.spyOn(Template.prototype, 'render').mockReturnValueOnce(5 as never);
    expect(
      await errorOf(
        [{ prompt: 'p', response: 'r' }],
        { template: 'chat', mask_prompt: false },
        fakeTokenizer({ chatTemplate: CHATML }),
      ),
    ).toBe('formatter.template: train row 0: the chat template rendered a number, not a string');
  });

  it('reports chat problems: no chat template, bad messages, a template that is not prefix-stable', async () => {
    const noChat =
      "chat formatting needs the tokenizer's chat template, and this tokenizer has none " +
      '(tokenizer_config.json chat_template); set template to a Jinja string for the prompt instead';
    expect(await errorOf([{ prompt: 'p', response: 'r' }], { template: 'chat' })).toBe(`formatter.template: ${noChat}`);
    expect(await errorOf([{ messages: [{ role: 'user', content: 'x' }] }])).toBe(`train row 0: ${noChat}`);
    const tok = fakeTokenizer({ chatTemplate: CHATML });
    expect(await errorOf([{ messages: 'hi' }], {}, tok)).toBe(
      "train row 0: field 'messages' must be a list of {role, content} messages, got a string",
    );
    expect(await errorOf([{ messages: [] }], {}, tok)).toBe("train row 0: field 'messages' is an empty list");
    expect(await errorOf([{ messages: [{ content: 'x' }] }], {}, tok)).toBe(
      "train row 0: messages[0] has no string 'role'",
    );
    expect(await errorOf([{ text: 'x' }], { use_chat_template: true }, tok)).toBe(
      "train row 0: missing field 'messages' (the row has: text)",
    );
    // A field the config named is said at that option: the config's line that named it.
    expect(await errorOf([{ text: 'x' }], { text_field: 'story' })).toBe(
      "formatter.text_field: train row 0: no 'story', 'prompt'/'response' or 'messages' field (the row has: text)",
    );
    expect(await errorOf([{ question: 'q', answer: 4 }], { prompt_field: 'question', response_field: 'answer' })).toBe(
      "formatter.response_field: train row 0: field 'answer' must be a string, got a number",
    );
    expect(await errorOf([{ text: 'x' }], { use_chat_template: true, messages_field: 'turns' }, tok)).toBe(
      "formatter.messages_field: train row 0: missing field 'turns' (the row has: text)",
    );
    // Renders the last message differently from the earlier ones: prefixes do not line up.
    const unstable = fakeTokenizer({
      chatTemplate:
        '{% for m in messages %}{% if loop.last %}[{{ m.content }}]{% else %}{{ m.content }}{% endif %}{% endfor %}',
    });
    expect(
      await errorOf(
        [
          {
            messages: [
              { role: 'user', content: 'a' },
              { role: 'assistant', content: 'b' },
            ],
          },
        ],
        {},
        unstable,
      ),
    ).toBe(
      "train row 0: cannot find the assistant turns: the chat template's rendering of messages[0..1] does not start " +
        'with its rendering of the messages before it; set mask_prompt: false',
    );
    expect(
      await errorOf(
        [{ messages: [{ role: 'user', content: '{{' }] }],
        {},
        fakeTokenizer({ chatTemplate: '{{ raise_exception("no") }}' }),
      ),
    ).toBe('train row 0: chat template error: no');
  });

  it('reports bad options (as the config validation words them) and impossible requests', async () => {
    expect(await errorOf([{ text: 'x' }], { max_length: 0 })).toBe('formatter.max_length: must be >= 1');
    expect(await errorOf([{ text: 'x' }], { truncation: 'cut' })).toBe(
      'formatter.truncation: expected one of "truncate", "drop"',
    );
    expect(await errorOf([{ text: 'x' }], { add_eos: true }, fakeTokenizer({ eos: false }))).toBe(
      'formatter.add_eos: the tokenizer has no EOS token',
    );
    expect(await errorOf([{ text: 'abc' }], { max_length: 8, packing: true })).toBe(
      'formatter.packing: the train split has 4 tokens in all, fewer than max_length 8, so no full sequence; lower max_length or set packing: false',
    );
  });
});

// The real GPT-2 tokenizer (tokenizer.json of /work/shared/data/gpt2-tokenizer), read offline.
const sharedData = path.resolve(repoRoot, '..', 'shared', 'data');
const haveGpt2 = existsSync(path.join(sharedData, 'gpt2-tokenizer', 'tokenizer.json'));

describe('jinja_formatter: GPT-2 tokenizer', () => {
  it.skipIf(!haveGpt2)(
    `masks the prompt with real BPE ids${haveGpt2 ? '' : ` (skipped: ${sharedData}/gpt2-tokenizer is missing)`}`,
    async () => {
      // The tokenizers library directly (what transformers.js encodes with), not the engine's wrapper.
      const { Tokenizer: HFTokenizer } = await import('@huggingface/tokenizers');
      const read = (f: string) =>
        JSON.parse(readFileSync(path.join(sharedData, 'gpt2-tokenizer', f), 'utf8')) as object;
      const tok = new HFTokenizer(read('tokenizer.json'), read('tokenizer_config.json'));
      const hf = {
        encode: (text: string, o?: { add_special_tokens?: boolean }) => tok.encode(text, o).ids,
        decode: (ids: number[], o?: { skip_special_tokens?: boolean }) => tok.decode(ids, o),
      };
      const gpt2: Tokenizer = {
        vocabSize: tok.get_vocab().size,
        encode: (text, o) => hf.encode(text, { add_special_tokens: o?.addSpecialTokens ?? true }),
        decode: (ids, o) => hf.decode(ids, { skip_special_tokens: o?.skipSpecialTokens ?? false }),
        eosTokenId: 50256,
        bosTokenId: 50256,
        specialTokens: { bos_token: '<|endoftext|>', eos_token: '<|endoftext|>' },
      };
      const out = (
        await format(
          [{ prompt: 'the capital of France', response: ' Paris.' }],
          { template: 'Question: {{ prompt }}?\nAnswer:' },
          gpt2,
        )
      ).unwrap();
      const [row] = out.train as TokenizedRow[];
      const prompt = hf.encode('Question: the capital of France?\nAnswer:', { add_special_tokens: false });
      const response = hf.encode(' Paris.', { add_special_tokens: false });
      expect(response.length).toBeGreaterThan(0);
      // GPT-2 adds no BOS of its own; EOS (<|endoftext|>) ends the example and is trained on.
      expect(row).toEqual({
        input_ids: [...prompt, ...response, 50256],
        labels: [...prompt.map(() => -100), ...response, 50256],
      });
      expect(gpt2.decode(row!.input_ids)).toBe('Question: the capital of France?\nAnswer: Paris.<|endoftext|>');
      expect(out.info!().formatted).toMatchObject({
        train: { examples: 1, tokens: row!.input_ids.length, maskedFraction: prompt.length / row!.input_ids.length },
      });
    },
  );
});
