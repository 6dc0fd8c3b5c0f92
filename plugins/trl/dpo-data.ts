/**
 * DPO formatting, as TRL's DPOTrainer tokenizes its rows: `prompt`, `chosen` and `rejected` (three strings, or
 * three lists of chat messages) into one row per pair holding both sequences, prompt + chosen as
 * `input_ids`/`labels` and prompt + rejected as `rejected_input_ids`/`rejected_labels`; the prompt's labels are
 * -100, so a sequence's log-probability sums its completion's tokens only. Message lists go through the chat
 * template (the prompt with the generation prompt, each completion as what the conversation adds after it).
 * Each completion ends with EOS, as in TRL; a pair is cut to `max_length` at the end.
 */
import { Err, getLogger, Ok, type Dataset, type Result, type TokenizedRow, type Tokenizer } from 'dumbo';
import { RowFormatter } from '../jinja_formatter/index.js';
import { aboutOption, type TrlOptions } from './options.js';
import { datasetKinds, fieldsOf, formatterOptions, has, mapRows, valueKind, withChatTemplate } from './rows.js';
import type { ChatTemplate, Message, Row, RowKinds } from './rows.js';

/** A formatted preference pair: the chosen sequence as the row's ids and labels, and the rejected one. */
export interface PairRow extends TokenizedRow {
  rejected_input_ids: number[];
  rejected_labels: number[];
  /** The reference model's summed log-probabilities of each completion, once precomputed. */
  ref_chosen_logps?: number;
  ref_rejected_logps?: number;
}

export function isPairRow(row: unknown): row is PairRow {
  const r = row as PairRow;
  return (
    typeof r === 'object' &&
    r !== null &&
    Array.isArray(r.input_ids) &&
    Array.isArray(r.rejected_input_ids) &&
    Array.isArray(r.rejected_labels)
  );
}

const FIELDS = ['prompt', 'chosen', 'rejected'] as const;
type PairKind = 'text' | 'messages';
const KIND_NAMES: Record<PairKind, string> = { text: 'string', messages: 'message-list' };

/** A row's kind (three strings or three message lists), or what is wrong with it. */
function kindOf(row: Row): Result<PairKind, string> {
  for (const f of FIELDS) {
    if (!has(row, f)) return Err(`missing field '${f}' (the row has: ${fieldsOf(row)})`);
  }
  const kinds = FIELDS.map((f) => valueKind(row[f]));
  if (kinds.every((k) => k === 'text')) {
    const empty = FIELDS.slice(1).find((f) => row[f] === '');
    return empty ? Err(`'${empty}' is empty`) : Ok('text');
  }
  if (kinds.every((k) => k === 'messages')) return Ok('messages');
  return Err("'prompt', 'chosen' and 'rejected' must be three strings or three lists of {role, content} messages");
}

/** The pair as two prompt/response rows for the jinja formatter. */
function sides(row: Row, kind: PairKind, chat: ChatTemplate | undefined): Result<[Row, Row], string> {
  if (kind === 'text') {
    return Ok([
      { prompt: row.prompt, response: row.chosen },
      { prompt: row.prompt, response: row.rejected },
    ]);
  }
  const prompt = row.prompt as Message[];
  const chosen = chat!.split(prompt, row.chosen as Message[], 'chosen');
  if (!chosen.ok) return chosen;
  const rejected = chat!.split(prompt, row.rejected as Message[], 'rejected');
  if (!rejected.ok) return rejected;
  return Ok([
    { prompt: chosen.value[0], response: chosen.value[1] },
    { prompt: rejected.value[0], response: rejected.value[1] },
  ]);
}

/** What formatting one split did. */
interface PairStats {
  pairs: number;
  /** Sequences (chosen or rejected) cut to max_length. */
  truncated: number;
  tokens: number;
}

/** The pairs of one split, formatted. */
function formatSplit(
  rows: readonly unknown[],
  split: string,
  o: TrlOptions,
  f: RowFormatter,
  kinds: RowKinds<PairKind>,
  chat: ChatTemplate | undefined,
): Result<{ rows: PairRow[]; stats: PairStats }> {
  const pairs = mapRows(rows, split, kinds, (row) => sides(row, kinds.expected, chat));
  if (!pairs.ok) return pairs;
  const chosen = pairs.value.map((p) => p[0]);
  const rejected = pairs.value.map((p) => p[1]);
  const c = f.format(chosen, split);
  if (!c.ok) return c;
  const r = f.format(rejected, split);
  if (!r.ok) return r;
  // Every completion is non-empty text, so every side gives tokens: the two lists pair up by index.
  const out: PairRow[] = [];
  let tokens = 0;
  for (let i = 0; i < rows.length; i++) {
    const [a, b] = [c.value.examples[i]!, r.value.examples[i]!];
    if (!a.labels.some((l) => l !== -100) || !b.labels.some((l) => l !== -100)) {
      return Err(
        aboutOption(
          'max_length',
          `${split} row ${i}: the prompt fills all ${o.max_length} tokens, nothing of the ` +
            `${a.labels.some((l) => l !== -100) ? 'rejected' : 'chosen'} answer is left; raise max_length`,
        ),
      );
    }
    out.push({ input_ids: a.ids, labels: a.labels, rejected_input_ids: b.ids, rejected_labels: b.labels });
    tokens += a.ids.length + b.ids.length;
  }
  return Ok({
    rows: out,
    stats: { pairs: out.length, truncated: c.value.stats.truncated + r.value.stats.truncated, tokens },
  });
}

/** The DPO formatting of a dataset: preference rows -> `PairRow`s. */
export function formatDpo(dataset: Dataset, o: TrlOptions, tok: Tokenizer): Result<Dataset> {
  const found = datasetKinds(dataset, o, tok, { of: kindOf, names: KIND_NAMES, needChat: (k) => k === 'messages' });
  if (!found.ok) return found;
  const { kinds, chat } = found.value;
  const options = formatterOptions(o, {
    // A chat template writes its own BOS; every completion ends with EOS, as TRL appends it.
    ...(kinds.expected === 'text' ? {} : { add_bos: false }),
    ...(tok.eosTokenId !== undefined ? { add_eos: true } : {}),
  });
  const f = RowFormatter.create(options, withChatTemplate(tok, chat?.source));
  if (!f.ok) return f;
  const train = formatSplit(dataset.train, 'train', o, f.value, kinds, chat);
  if (!train.ok) return train;
  const ev = dataset.eval ? formatSplit(dataset.eval, 'eval', o, f.value, kinds, chat) : undefined;
  if (ev && !ev.ok) return ev;
  const log = getLogger('trl');
  for (const [split, s] of [
    ['train', train.value.stats],
    ['eval', ev?.value.stats],
  ] as const) {
    if (!s) continue;
    const cut = `${s.truncated} sequence${s.truncated === 1 ? '' : 's'} truncated`;
    log.info(`${split}: ${s.pairs} preference pairs, ${s.tokens} tokens, ${cut}`);
  }
  const loaded = dataset.info?.() ?? { rows: dataset.train.length, evalRows: dataset.eval?.length };
  const info = {
    ...loaded,
    formatted: { maxLength: o.max_length, train: train.value.stats, ...(ev?.ok ? { eval: ev.value.stats } : {}) },
    trl: { method: 'dpo', kind: kinds.expected },
  };
  return Ok({ train: train.value.rows, ...(ev?.ok ? { eval: ev.value.rows } : {}), info: () => info });
}
