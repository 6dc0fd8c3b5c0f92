/**
 * SFT formatting, as TRL's SFTTrainer prepares its dataset: prompt/completion rows (`prompt` and
 * `completion`, or `response` as the polars loader names it) and chat rows (`messages`) into token ids and
 * labels. The tokenizing is the jinja formatter's (prompt and completion tokenized apart so the mask boundary
 * is exact, chats rendered message prefix by message prefix to find the assistant turns, BOS/EOS,
 * truncation, packing); this file decides what each row is and which part is masked:
 *   - prompt/completion strings: the prompt as is, then the completion; `completion_only_loss` masks the prompt;
 *   - chat rows: the chat template; `assistant_only_loss` masks everything but the assistant turns;
 *   - prompt/completion message lists (TRL's conversational prompt-completion): the chat template renders the
 *     prompt (with the generation prompt) and the completion after it; `completion_only_loss` masks the prompt.
 * A dataset is one kind of rows, as in TRL: the first training row decides.
 */
import { Err, Ok, type Dataset, type Result, type Tokenizer } from 'dumbo';
import { formatDataset } from '../jinja_formatter/index.js';
import { aboutOption, type TrlOptions } from './options.js';
import { datasetKinds, fieldsOf, formatterOptions, has, mapRows, valueKind, withChatTemplate } from './rows.js';
import type { ChatTemplate, Message, Row } from './rows.js';

type SftKind = 'prompt_completion' | 'conversational' | 'chat';

const KIND_NAMES: Record<SftKind, string> = {
  prompt_completion: 'prompt/completion',
  conversational: 'conversational prompt/completion',
  chat: 'chat (messages)',
};

/** The completion's field: TRL's `completion`, or `response` as the polars loader names it. */
function completionField(row: Row): string | undefined {
  if (has(row, 'completion')) return 'completion';
  return has(row, 'response') ? 'response' : undefined;
}

/** A row's kind, or what is wrong with it (the caller names the row). */
function kindOf(row: Row): Result<SftKind, string> {
  if (has(row, 'messages')) return Ok('chat');
  const c = completionField(row);
  if (!has(row, 'prompt') || c === undefined) {
    return Err(`no 'prompt' and 'completion' fields, and no 'messages' field (the row has: ${fieldsOf(row)})`);
  }
  const [p, k] = [valueKind(row.prompt), valueKind(row[c])];
  if (p === 'text' && k === 'text') return Ok('prompt_completion');
  if (p === 'messages' && k === 'messages') return Ok('conversational');
  return Err(`'prompt' and '${c}' must be two strings or two lists of {role, content} messages`);
}

/** A row as the jinja formatter takes it: `{prompt, response}` or `{messages}`. */
function formatterRow(row: Row, kind: SftKind, chat: ChatTemplate | undefined): Result<Row, string> {
  if (kind === 'chat') return Ok({ messages: row.messages });
  const c = completionField(row)!;
  if (kind === 'prompt_completion') return Ok({ prompt: row.prompt, response: row[c] });
  const texts = chat!.split(row.prompt as Message[], row[c] as Message[], c);
  return texts.ok ? Ok({ prompt: texts.value[0], response: texts.value[1] }) : texts;
}

/** The jinja formatter's errors in the words of this section's options. */
function sftError(error: Error): Error {
  const packing = /^packing: ([\s\S]*)$/.exec(error.message);
  if (packing) return aboutOption('packing', packing[1]!);
  return new Error(error.message.replace('set mask_prompt: false', 'set trl.assistant_only_loss: false'), {
    cause: error,
  });
}

/** The SFT formatting of a dataset: rows -> `{input_ids, labels}`. */
export function formatSft(dataset: Dataset, o: TrlOptions, tok: Tokenizer): Result<Dataset> {
  const found = datasetKinds(dataset, o, tok, {
    of: kindOf,
    names: KIND_NAMES,
    needChat: (k) => k !== 'prompt_completion',
  });
  if (!found.ok) return found;
  const { kinds, chat } = found.value;
  const kind = kinds.expected;
  const convert = (rows: readonly unknown[], split: string) =>
    mapRows(rows, split, kinds, (row) => formatterRow(row, kind, chat));
  const train = convert(dataset.train, 'train');
  if (!train.ok) return train;
  const evalRows = dataset.eval ? convert(dataset.eval, 'eval') : undefined;
  if (evalRows && !evalRows.ok) return evalRows;

  const options = formatterOptions(o, {
    mask_prompt: kind === 'chat' ? o.assistant_only_loss : o.completion_only_loss,
    // Text the chat template made carries its own BOS and turn ends, as in a chat row.
    ...(kind === 'conversational' ? { add_bos: false, add_eos: false } : {}),
    packing: o.packing,
  });
  const input = { train: train.value, ...(evalRows?.ok ? { eval: evalRows.value } : {}) };
  const formatted = formatDataset(input, options, withChatTemplate(tok, chat?.source));
  if (!formatted.ok) return Err(sftError(formatted.error));
  const loaded = dataset.info?.() ?? { rows: dataset.train.length, evalRows: dataset.eval?.length };
  const info = { ...loaded, ...formatted.value.info?.(), trl: { method: 'sft', kind } };
  return Ok({ ...formatted.value, info: () => info });
}
