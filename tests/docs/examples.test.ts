import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { toyTrainerJs } from '../fixtures/plugins.js';
import { lastLine, repoRoot, runDumbo, tempDir, writeFiles } from '../helpers.js';

// The example plugins of docs/plugins.md, loaded by path from a config outside the repository.
describe('docs/plugins.md examples', () => {
  it('loss_alarm (TS) and csv_metrics (JS) take part in a real run', async () => {
    const examples = path.join(repoRoot, 'docs', 'examples');
    const dir = writeFiles(tempDir(), {
      'trainer/index.js': toyTrainerJs,
      'run.yaml': [
        'plugins:',
        `  - ${path.join(examples, 'loss_alarm')}`,
        `  - ${path.join(examples, 'csv_metrics')}`,
        '  - ./trainer',
        'loss_alarm:',
        '  max_loss: 2.0',
        'toy_trainer:',
        '  steps: 5',
        '',
      ].join('\n'),
    });
    const r = await runDumbo(['run', 'run.yaml', '--output', 'out'], { cwd: dir });
    expect(r.code).toBe(0);
    // toy loss: 3.2, 2.56, 2.048, 1.6384, 1.31072 -> three steps above 2.0
    expect(r.stderr).toContain('[loss_alarm] warning: step 1: loss 3.2000 is above 2');
    expect(readFileSync(path.join(dir, 'out', 'loss_alarm.txt'), 'utf8')).toBe('3 of 5 steps above 2\n');
    const csv = readFileSync(path.join(dir, 'out', 'metrics.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(csv[0]).toBe('step,name,value,timestamp');
    expect(csv.filter((l) => l.includes(',loss,'))).toHaveLength(5);
  });

  it("loss_alarm's schema requires max_loss", async () => {
    const dir = writeFiles(tempDir(), {
      'run.yaml': `plugins:\n  - ${path.join(repoRoot, 'docs', 'examples', 'loss_alarm')}\nloss_alarm:\n  report: x.txt\n`,
    });
    const r = await runDumbo(['validate', 'run.yaml'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(lastLine(r.stderr)).toBe("run.yaml:4:3: loss_alarm: missing required field 'max_loss'");
  });
});
