// PIN files are read without trusting them (HSM_PIN_FILE, a URI's pin-source): a FIFO, a device,
// a large file or bytes that are not UTF-8 are refused at once, naming the file, never the content.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { readPinFile } from '../../lib/config';
import { MAX_PIN_FILE_BYTES, readPinFileSafely } from '../../lib/pkcs11/pin-file';
import { readPinSource } from '../../lib/pkcs11/uri-sources';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-pin-file-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const write = (name: string, content: string | Buffer) => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
};

test('a PIN file: one trailing newline dropped, the rest kept', () => {
  expect(readPinFileSafely(write('pin', '12 34\n'))).toEqual({ pin: '12 34' });
  expect(readPinFileSafely(write('crlf', '1234\r\n'))).toEqual({ pin: '1234' });
  expect(readPinFileSafely(write('two', '1234\n\n'))).toEqual({ pin: '1234\n' });
});

test('a FIFO, a device, a directory, a large, empty or non-UTF-8 file: refused at once', () => {
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const started = Date.now();
  expect(readPinFileSafely(fifo)).toEqual({ problem: expect.stringContaining('not a regular file') });
  expect(Date.now() - started).toBeLessThan(5000); // it did not wait for a writer (a hang would time the test out)
  expect(readPinFileSafely('/dev/zero')).toEqual({ problem: expect.stringContaining('not a regular file') });
  expect(readPinFileSafely(dir)).toEqual({ problem: expect.stringContaining('not a regular file') });
  expect(readPinFileSafely(write('big', 'x'.repeat(MAX_PIN_FILE_BYTES + 1)))).toEqual({
    problem: expect.stringContaining('larger than'),
  });
  expect(readPinFileSafely(write('empty', '\n'))).toEqual({ problem: expect.stringContaining('is empty') });
  expect(readPinFileSafely(write('latin1', Buffer.from([0x31, 0xe9, 0x32])))).toEqual({
    problem: expect.stringContaining('not UTF-8'),
  });
  expect(readPinFileSafely(path.join(dir, 'missing'))).toEqual({ problem: expect.stringContaining('ENOENT') });
});

test('HSM_PIN_FILE and pin-source use it: typed errors naming the file, never its content', async () => {
  const big = write('secret-big', `secret-content-${'y'.repeat(MAX_PIN_FILE_BYTES)}`);
  expect(() => readPinFile(big)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
  expect(() => readPinFile('/dev/zero')).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
  await expect(readPinSource(`file:${big}`)).rejects.toMatchObject({ code: 'ERR_URI_PIN_SOURCE' });
  await expect(readPinSource('/dev/zero')).rejects.toMatchObject({ code: 'ERR_URI_PIN_SOURCE' });
  try {
    readPinFile(big);
  } catch (e) {
    expect(String((e as Error).message)).not.toContain('secret-content');
  }
});
