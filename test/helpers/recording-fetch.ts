// fetch for the tests, recording for the secret-leak check (secret-leak-recorder.ts) the status,
// headers and body of every response, or the error when there is none. The response the test gets
// is untouched (the body is read from a clone).
import { record, recordError, where } from './secret-leak-recorder';

export async function fetch(...args: Parameters<typeof globalThis.fetch>): Promise<Response> {
  const [input, init] = args;
  const url = typeof input === 'object' && 'url' in input ? input.url : String(input);
  const source = `${init?.method ?? (typeof input === 'object' && 'method' in input ? input.method : 'GET')} ${url}`;
  const at = where();
  let r: Response;
  try {
    r = await globalThis.fetch(...args);
  } catch (e) {
    recordError(e, `fetch ${source}`, at);
    throw e;
  }
  let body: string;
  try {
    body = await r.clone().text();
  } catch (e) {
    body = `(body not readable: ${(e as Error).message})`;
  }
  const headers = [...r.headers].map(([k, v]) => `${k}: ${v}`).join('\n');
  record('http', `${source} -> ${r.status}`, `HTTP ${r.status} ${r.statusText}\n${headers}\n\n${body}`, at);
  return r;
}
