// A Logger for tests that keeps the warnings (what a test asserts on) and drops the rest.
import type { Logger } from '../../lib/logger';

export interface Warning {
  message: string;
  fields?: Record<string, unknown>;
}

export function warningLogger(): { logger: Logger; warnings: Warning[] } {
  const warnings: Warning[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (message, fields) => warnings.push({ message, ...(fields ? { fields } : {}) }),
    error() {},
  };
  return { logger, warnings };
}
