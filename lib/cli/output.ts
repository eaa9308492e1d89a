// What the CLI prints: JSON results on stdout, messages and progress on stderr.
// The only place that writes to stdout.

export const EXIT = { ok: 0, failed: 1, usage: 2, config: 3 } as const;

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
}

export function printText(text: string): void {
  process.stdout.write(`${text}\n`);
}

export function say(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** A progress line on stderr while `work` runs: a spinner with elapsed seconds on a TTY, else one line. */
export async function withProgress<T>(label: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const tty = process.stderr.isTTY === true;
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let frame = 0;
  const seconds = () => ((Date.now() - started) / 1000).toFixed(1);
  const timer = tty
    ? setInterval(() => process.stderr.write(`\r${frames[frame++ % frames.length]} ${label} ${seconds()} s`), 100)
    : undefined;
  if (!tty) say(`${label}…`);
  try {
    const result = await work();
    if (tty) process.stderr.write('\r\x1b[K');
    say(`${label}: done in ${seconds()} s`);
    return result;
  } finally {
    if (timer) clearInterval(timer);
  }
}
