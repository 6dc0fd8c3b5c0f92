/**
 * The run's text samples as the trainer leaves them: it appends `{step, prompt, text}` lines to the run
 * folder's samples.jsonl (no hook or metric carries them), so the plugin reads the lines added since its last
 * look, complete lines only. Imported by index.ts.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';

export interface Sample {
  step: number;
  /** The prompt followed by what the model wrote. */
  text: string;
}

export class SamplesTail {
  private offset = 0;
  constructor(readonly file: string) {}

  /** The samples of every complete line added since the last call; a malformed line is skipped. */
  read(): Sample[] {
    if (!existsSync(this.file)) return [];
    const size = statSync(this.file).size;
    if (size <= this.offset) return [];
    const buffer = Buffer.alloc(size - this.offset);
    const fd = openSync(this.file, 'r');
    try {
      readSync(fd, buffer, 0, buffer.length, this.offset);
    } finally {
      closeSync(fd);
    }
    // A line still being written has no newline yet: leave it for the next look.
    const end = buffer.lastIndexOf(0x0a) + 1;
    this.offset += end;
    const samples: Sample[] = [];
    for (const line of buffer.subarray(0, end).toString('utf8').split('\n')) {
      const sample = parseSample(line);
      if (sample) samples.push(sample);
    }
    return samples;
  }
}

function parseSample(line: string): Sample | undefined {
  if (!line.trim()) return undefined;
  try {
    const row = JSON.parse(line) as { step?: unknown; prompt?: unknown; text?: unknown };
    if (typeof row.step !== 'number' || typeof row.text !== 'string') return undefined;
    return { step: row.step, text: (typeof row.prompt === 'string' ? row.prompt : '') + row.text };
  } catch {
    return undefined;
  }
}
