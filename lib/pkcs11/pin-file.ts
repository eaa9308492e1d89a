// Reading a PIN from a file without trusting the file (HSM_PIN_FILE, a URI's pin-source): a
// regular file only (a FIFO would block the process, a device never ends), at most 1 KiB, UTF-8
// (other bytes would be sent altered and spend one of the token's few tries), one trailing
// newline dropped. The caller turns a problem into its own error; nothing here quotes the content.
import * as fs from 'node:fs';

export const MAX_PIN_FILE_BYTES = 1024;

export type PinFileReading = { pin: string } | { problem: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function readPinFileSafely(file: string): PinFileReading {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (e) {
    return { problem: `cannot read ${JSON.stringify(file)} (${(e as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) return { problem: `${JSON.stringify(file)} is not a regular file` };
    if (stat.size > MAX_PIN_FILE_BYTES)
      return { problem: `${JSON.stringify(file)} is larger than ${MAX_PIN_FILE_BYTES} bytes: not a PIN file` };
    const buffer = Buffer.alloc(MAX_PIN_FILE_BYTES + 1);
    const length = fs.readSync(fd, buffer, 0, buffer.length, 0);
    if (length > MAX_PIN_FILE_BYTES)
      return { problem: `${JSON.stringify(file)} is larger than ${MAX_PIN_FILE_BYTES} bytes: not a PIN file` };
    let text: string;
    try {
      text = utf8.decode(buffer.subarray(0, length));
    } catch {
      return { problem: `${JSON.stringify(file)} is not UTF-8 text` };
    }
    const pin = text.replace(/\r?\n$/, '');
    return pin === '' ? { problem: `${JSON.stringify(file)} is empty` } : { pin };
  } catch (e) {
    return { problem: `cannot read ${JSON.stringify(file)} (${(e as NodeJS.ErrnoException).code ?? 'error'})` };
  } finally {
    fs.closeSync(fd);
  }
}
