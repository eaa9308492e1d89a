// The CLI's logger: pino, writing to stderr (stdout carries results only).
import pino from 'pino';

import type { LogLevel } from '../config';
import type { Logger } from '../logger';

export function createLogger(level: LogLevel): Logger {
  const p = pino({ level, base: undefined }, pino.destination(2));
  return {
    debug: (message, fields) => p.debug(fields ?? {}, message),
    info: (message, fields) => p.info(fields ?? {}, message),
    warn: (message, fields) => p.warn(fields ?? {}, message),
    error: (message, fields) => p.error(fields ?? {}, message),
  };
}
