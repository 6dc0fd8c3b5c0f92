/** Config problems as the editor shows them: which belong to the open file, and where they sit in it. */

import type { ConfigProblem } from '../../../shared/api.js';

/** Whether a problem is about the config being edited (not an included file or a plugin's own file). */
export function inThisFile(problem: ConfigProblem, configPath: string): boolean {
  if (!problem.file) return true;
  if (problem.file === configPath) return true;
  // A relative or untitled path: the problem's file is that path made absolute.
  return (
    !configPath.startsWith('/') && configPath !== '' && problem.file.endsWith('/' + configPath.replace(/^\.\//, ''))
  );
}

/** "12:5 message", "12 message" or "message". */
export function problemLabel(problem: ConfigProblem): string {
  if (problem.line === undefined) return problem.message;
  const at = problem.column === undefined ? `${problem.line}` : `${problem.line}:${problem.column}`;
  return `${at} ${problem.message}`;
}

/** A lint range for a problem: from its column to the end of the word there (at least one character). */
export function problemRange(
  problem: ConfigProblem,
  lines: { count: number; line(n: number): { from: number; to: number; text: string } },
): { from: number; to: number } | undefined {
  if (problem.line === undefined || lines.count === 0) return undefined;
  const line = lines.line(Math.min(Math.max(problem.line, 1), lines.count));
  const offset = Math.min(Math.max((problem.column ?? 1) - 1, 0), line.text.length);
  const from = line.from + offset;
  const word = /^\S+/.exec(line.text.slice(offset))?.[0].length ?? 0;
  const to = word > 0 ? from + word : Math.min(line.to, from + 1);
  return { from, to: problem.column === undefined ? line.to : to };
}
