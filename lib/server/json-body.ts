// Request bodies: fastify's own JSON parser (prototype-poisoning checks included) behind a nesting
// check. JSON.parse copes with 30,000 nested arrays, but what comes after (schema checks, JSON
// serialisation when signing) recurses and would overflow the stack: a 500. No body of ours nests
// more than a few levels, so deeper ones are refused before parsing: 400 ERR_JSON_TOO_DEEP.
import type { FastifyInstance } from 'fastify';

import { HsmJwksError } from '../errors';

/** Deepest nesting of objects and arrays a request body may have. */
export const MAX_JSON_DEPTH = 32;

/** The deepest nesting of `[`/`{` in a JSON text (outside strings); stops counting past `limit`. */
export function jsonDepth(text: string, limit = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

export function useBoundedJson(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
      const e = Object.assign(
        new HsmJwksError('ERR_JSON_TOO_DEEP', `the body nests objects or arrays more than ${MAX_JSON_DEPTH} deep`),
        { statusCode: 400 },
      );
      done(e, undefined);
      return;
    }
    parse(request, text, done);
  });
}
