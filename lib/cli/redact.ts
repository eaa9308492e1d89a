// Credentials out of what the CLI prints: the password of every URL (postgres://user:***@host/db) and
// password-like query parameters (?password=***). The doctor runs its whole report through this.

// The password runs to the last @ before the path: a password may contain an @.
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^/?#@\s:]*):([^/?#\s]*)@/gi;
// Query parameters (?password=…) and libpq keyword strings (host=… password=…).
const SECRET_PARAMS =
  /((?:^|[\s?&;])(?:password|passwd|pwd|pass|sslpassword|secret|token|api_?key|access_?token)=)('[^']*'|[^&#\s]*)/gi;

/** The text with the password of every URL in it, and secret query parameters, replaced by ***. */
export function redactText(text: string): string {
  return text.replace(USERINFO, '$1$2:***@').replace(SECRET_PARAMS, '$1***');
}

/** A copy of `value` (JSON-like) with every string redacted (bigints kept). */
export function redact<T>(value: T): T {
  if (typeof value === 'string') return redactText(value) as T;
  if (Array.isArray(value)) return value.map((v) => redact(v)) as T;
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v)])) as T;
  }
  return value;
}
