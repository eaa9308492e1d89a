// Credentials out of what the CLI prints: the password of every URL (postgres://user:***@host/db) and
// password-like query parameters (?password=***). The doctor runs its whole report through this.

// The password runs to the last @ before the path: a password may contain an @.
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^/?#@\s:]*):([^/?#\s]*)@/gi;
// Query parameters (?password=…) and libpq keyword strings (host=… password=…).
const SECRET_PARAMS =
  /((?:^|[\s?&;])(?:password|passwd|pwd|pass|sslpassword|secret|token|api_?key|access_?token)=)('[^']*'|[^&#\s]*)/gi;

// A PKCS#11 URI (RFC 7512): only its pin-value is a secret (its path has `;token=` for the token label);
// a pin-value outside such a URI (a query quoted alone) is redacted too.
const PKCS11_URI = /\bpkcs11:[^\s"'`]*/gi;
const PIN_VALUE = /((?:^|[\s?&;])pin-value=)[^&#\s]*/gi;

/** The text with the password of every URL in it, secret query parameters and PKCS#11 pin-values replaced by ***. */
export function redactText(text: string): string {
  const plain = (t: string) =>
    t.replace(USERINFO, '$1$2:***@').replace(SECRET_PARAMS, '$1***').replace(PIN_VALUE, '$1***');
  let out = '';
  let last = 0;
  for (const m of text.matchAll(PKCS11_URI)) {
    out += plain(text.slice(last, m.index)) + m[0].replace(PIN_VALUE, '$1***');
    last = m.index + m[0].length;
  }
  return out + plain(text.slice(last));
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
