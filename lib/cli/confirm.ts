// Confirmation of a destructive command: asked on the terminal, never assumed.
import * as readline from 'node:readline';

/** Whether a person can be asked: stdin and stderr are both terminals. */
export function canAsk(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}

/** Asks `question` on stderr and reads one line from stdin: true only for "y" or "yes". */
export async function confirm(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.once('close', () => resolve(''));
      rl.question(`${question} [y/N] `, resolve);
    });
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
    process.stdin.pause();
  }
}
