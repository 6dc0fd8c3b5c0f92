/**
 * trl: supervised fine-tuning and preference tuning as Hugging Face TRL does them, on the engine's models
 * (section `trl:`, options named as TRL's SFTConfig and DPOConfig name them; README.md beside this file).
 *
 * - `method: sft` (SFTTrainer): a `dataset_formatter` for prompt/completion rows and chat (`messages`) rows,
 *   with completion-only and assistant-only loss and packing; the training loss is the trainer's own.
 * - `method: dpo` (DPOTrainer): a `dataset_formatter` for `prompt`/`chosen`/`rejected` rows, and the DPO loss
 *   through `compute_loss`, against the frozen initial model (with LoRA: the adapters switched off), computed at
 *   each step or once before training (`precompute_ref_log_probs`). The rewards and log-probabilities are
 *   logged under TRL's names (`rewards/accuracies`, ...) whenever the trainer logs.
 * - `path`: trl loads a JSONL file of TRL-format rows itself (a `dataset_loader`), for preference rows, which
 *   the polars loader does not keep.
 *
 * Where each part lives: options.ts (the section's schema), load.ts (the JSONL loader), rows.ts (row kinds
 * and the chat template), sft.ts and dpo-data.ts (formatting), dpo.ts (the loss, the reference, the metrics).
 * The tokenizing is the jinja formatter's, imported, not copied.
 */
import { DatasetFormatterPlugin, Err, Ok } from 'dumbo';
import type { Dataset, PluginConfig, PluginContext, PluginHooks, Result, Tokenizer } from 'dumbo';
import { isEngineModel, type CausalLM, type EngineLossFunction } from 'dumbo/engine';
import { formatDpo, isPairRow, type PairRow } from './dpo-data.js';
import {
  adaptersOff,
  DpoMetrics,
  dpoLossFunction,
  forwardOf,
  frozenCopy,
  precomputeReference,
  type ReferenceForward,
} from './dpo.js';
import { loadDataset } from './load.js';
import { aboutOption, checkOptions, trlSchema, type TrlOptions } from './options.js';
import { formatSft } from './sft.js';

export { formatDpo, type PairRow } from './dpo-data.js';
export { dpoLoss, dpoLossFunction, DpoMetrics, METRIC_NAMES, pairBatch, sequenceLogps } from './dpo.js';
export { readJsonl } from './load.js';
export type { TrlOptions } from './options.js';
export { formatSft } from './sft.js';

export class Trl extends DatasetFormatterPlugin {
  static configKey = 'trl';
  static provides = ['dataset_formatter', 'dataset_loader'];
  static description =
    'TRL: SFT on prompt/completion and chat rows (completion-only and assistant-only loss, packing) and DPO ' +
    'on preference pairs (loss, frozen reference, rewards metrics).';
  static version = '1.0.0';
  static configSchema = trlSchema;

  /** The section, as log_init gives it (the training-time hooks get no section). */
  private options: TrlOptions | undefined;
  /** The model, as the trainer hands it to trainable_parameters before its first step. */
  private lm: CausalLM | undefined;
  /** What this plugin formatted: the rows the DPO reference is precomputed for. */
  private formatted: Dataset | undefined;
  private reference: CausalLM | undefined;
  private readonly metrics = new DpoMetrics();

  formatDataset(dataset: Dataset, config: PluginConfig, tokenizer: Tokenizer | undefined): Result<Dataset> {
    // Checked against trlSchema, with its defaults, before any hook runs (validatePluginSections).
    const o = checkOptions(config as TrlOptions);
    if (!o.ok) return o;
    if (!tokenizer) {
      return Err(new Error('trl needs a tokenizer: add a tokenizer_loader plugin (transformers) to plugins:'));
    }
    if (!dataset || !Array.isArray(dataset.train)) return Err(new Error('the dataset has no train rows (a list)'));
    const r =
      o.value.method === 'dpo' ? formatDpo(dataset, o.value, tokenizer) : formatSft(dataset, o.value, tokenizer);
    if (r.ok) this.formatted = r.value;
    return r;
  }

  hooks(): PluginHooks {
    return {
      ...super.hooks(),
      log_init: (config) => this.configure(config as TrlOptions),
      dataset_loader: (config, _tokenizer, ctx) => loadDataset(config as TrlOptions, ctx.configDir, ctx.dryRunRows),
      trainable_parameters: (params, model) => {
        // Called before the first step and before a resumed run loads its checkpoint: the initial weights.
        if (isEngineModel(model)) this.lm = model.lm;
        return Ok(params);
      },
      compute_loss: async (loss, ctx) => {
        const o = this.options;
        if (o?.method !== 'dpo') return Ok(loss);
        const fn = await this.dpoLoss(o, ctx);
        return fn.ok ? Ok(fn.value as typeof loss) : fn;
      },
      log_metrics: async (_metrics, step, ctx) => {
        await ctx.metrics.logMetrics(await this.metrics.take('train', step));
        return Ok(undefined);
      },
      on_evaluate: async (report, _state, ctx) => {
        await ctx.metrics.logMetrics(await this.metrics.take('eval', report.step, 'eval/'));
        return Ok(undefined);
      },
      finish: () => {
        this.metrics.dispose();
        this.reference?.dispose();
        this.reference = undefined;
        return Ok(undefined);
      },
      // The estimate's sequence length: no formatted row is longer than max_length.
      estimate: (facts, config) => Ok({ ...facts, maxLength: (config as TrlOptions).max_length }),
    };
  }

  /** Keeps the section for the training-time hooks, which get none. */
  private configure(o: TrlOptions): Result<void> {
    this.options = o;
    return Ok(undefined);
  }

  /** The DPO loss of this run, its reference settled: adapters off, precomputed, or a frozen copy. */
  private async dpoLoss(o: TrlOptions, ctx: PluginContext): Promise<Result<EngineLossFunction>> {
    const lm = this.lm;
    if (!lm) {
      return Err(
        new Error('trl with method: dpo needs the model of the engine (the transformers plugin) and its trainer'),
      );
    }
    const rows = [...(this.formatted?.train ?? []), ...(this.formatted?.eval ?? [])];
    if (!rows.every(isPairRow)) {
      return Err(
        new Error('trl with method: dpo trains on the preference rows it formatted; another formatter changed them'),
      );
    }
    const longest = Math.max(...rows.map((r) => Math.max(r.input_ids.length, r.rejected_input_ids.length)));
    if (longest > lm.maxPositions) {
      return Err(
        aboutOption(
          'max_length',
          `a pair has ${longest} tokens, more than the model's context of ${lm.maxPositions} positions ` +
            `(lower it to at most ${lm.maxPositions})`,
        ),
      );
    }
    const lora = lm.lora;
    let reference: ReferenceForward;
    if (lora && (lora.saved?.size ?? 0) > 0) {
      // Switching the adapters off leaves the trained modules in place: the reference would drift with them.
      return Err(
        new Error(
          "trl: DPO with LoRA's modules_to_save is not supported (the reference would use the trained modules): " +
            'leave lora.modules_to_save out',
        ),
      );
    }
    if (lora) {
      reference = adaptersOff(lm, lora);
      ctx.logger.info('reference model: the policy with its LoRA adapters off');
    } else if (o.precompute_ref_log_probs) {
      // Before the first step the model is the initial one: it is its own reference, once.
      reference = forwardOf(lm);
    } else {
      this.reference = frozenCopy(lm);
      reference = forwardOf(this.reference);
      ctx.logger.info('reference model: a frozen copy of the initial weights');
    }
    if (o.precompute_ref_log_probs) {
      await precomputeReference(rows as PairRow[], reference, o.precompute_ref_batch_size);
      ctx.logger.info(`reference log-probabilities precomputed for ${rows.length} preference pairs`);
      return Ok(dpoLossFunction(undefined, o, this.metrics));
    }
    return Ok(dpoLossFunction(reference, o, this.metrics));
  }
}

export const AVAILABLE_PLUGINS = [Trl];
