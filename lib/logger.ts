// The logging seam: managers log through this small interface, on stderr (stdout belongs to the
// CLI's results). Two formats (LOG_FORMAT): `text`, one human-readable line per message
// (`2026-11-29T12:00:00.000Z INFO  message key=value …`), the default when stderr is a terminal;
// `json`, one JSON object per line (`{"level":"info","time":"<ISO>","msg":…}`, as Hydra's logrus
// writes), the default otherwise; `json_pretty` (Hydra's third value) indents it. Pass your own
// Logger to route messages elsewhere.
import pino from 'pino';

/** The levels (LOG_LEVEL), most severe first. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** The level of a logger made without one (and of LOG_LEVEL unset). */
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';
/** The formats one may ask for (LOG_FORMAT); `auto` is the default. */
export const LOG_FORMATS = ['text', 'json', 'json_pretty'] as const;
/** `auto`: text when the destination is a terminal, json otherwise. */
export type LogFormat = (typeof LOG_FORMATS)[number] | 'auto';

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface LoggerOptions {
  /** Default `auto`. */
  format?: LogFormat;
  /** Where lines go (default: stderr). `isTTY` decides the `auto` format. */
  stream?: { write(line: string): unknown; isTTY?: boolean };
}

const nothing = () => undefined;
export const silentLogger: Logger = { debug: nothing, info: nothing, warn: nothing, error: nothing };

const RANK: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: 100 };

/** A value as text: bare when it is one plain word, JSON-quoted otherwise (objects as JSON). */
function textValue(v: unknown): string {
  if (v instanceof Error) return JSON.stringify(v.message);
  if (typeof v === 'string') return /^[\w.:/@+-]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return '"[unserialisable]"';
  }
}

/** One text line: ISO time, level name, message, then key=value pairs. */
export function formatText(level: string, message: string, fields: Record<string, unknown> = {}, time = new Date()) {
  const pairs = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${textValue(v)}`);
  return `${[time.toISOString(), level.toUpperCase().padEnd(5), message, ...pairs].join(' ')}\n`;
}

function textLogger(level: LogLevel, stream: { write(line: string): unknown }): Logger {
  const at = (name: 'debug' | 'info' | 'warn' | 'error') =>
    RANK[name] < RANK[level]
      ? nothing
      : (message: string, fields?: Record<string, unknown>) => {
          stream.write(formatText(name, message, fields));
        };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A logger on stderr (or `options.stream`) at `level`, in `options.format` (default: text on a terminal, json otherwise). */
export function createLogger(level: LogLevel = DEFAULT_LOG_LEVEL, options: LoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stderr;
  const format = options.format === undefined || options.format === 'auto' ? autoFormat(stream) : options.format;
  if (format === 'text') return textLogger(level, stream);
  const destination =
    options.stream ?? (format === 'json' ? pino.destination(2) : { write: (l: string) => process.stderr.write(l) });
  const p = pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    format === 'json_pretty'
      ? { write: (line: string) => destination.write(`${JSON.stringify(JSON.parse(line), null, 2)}\n`) }
      : destination,
  );
  return {
    debug: (message, fields) => p.debug(fields ?? {}, message),
    info: (message, fields) => p.info(fields ?? {}, message),
    warn: (message, fields) => p.warn(fields ?? {}, message),
    error: (message, fields) => p.error(fields ?? {}, message),
  };
}

function autoFormat(stream: { isTTY?: boolean }): 'text' | 'json' {
  return stream.isTTY === true ? 'text' : 'json';
}
