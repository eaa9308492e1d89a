'use strict';
// Finds a secret (a PIN or a SECRETS_SYSTEM value) in a text: as it is, and as hex (lower and upper
// case, and the way node prints a Buffer), base64, base64url and a JSON byte list. Used by
// secret-leak-reporter.js; types in secret-finder.d.ts; tested by test/unit/secret-leak-check.test.ts.

/** Secrets shorter than this (no PIN or SECRETS_SYSTEM value is) are not searched for. */
const MIN_SECRET_LENGTH = 4;

/**
 * The forms a secret is searched in. A short needle, or an encoded one, counts only where it stands
 * alone: no neighbouring character matches `within` (a PIN 1234 inside port 41234 is no hit).
 */
function formsOf(value) {
  const bytes = Buffer.from(value, 'utf8');
  const hex = bytes.toString('hex');
  const base64 = bytes.toString('base64').replace(/=+$/, '');
  const base64url = bytes.toString('base64url');
  const forms = [
    {
      name: 'as is',
      needle: value,
      ...(value.length < 8 ? { within: /[A-Za-z0-9]/, numeric: /^\d+$/.test(value) } : {}),
    },
    { name: 'hex', needle: hex, within: /[0-9a-fA-F]/ },
    { name: 'HEX', needle: hex.toUpperCase(), within: /[0-9a-fA-F]/ },
    { name: 'Buffer hex', needle: hex.match(/../g).join(' '), within: /[0-9a-fA-F]/ },
    { name: 'base64', needle: base64, within: /[A-Za-z0-9+/_-]/ },
    { name: 'byte list', needle: [...bytes].join(','), within: /[0-9]/ },
  ];
  if (base64url !== base64) forms.push({ name: 'base64url', needle: base64url, within: /[A-Za-z0-9+/_-]/ });
  return forms;
}

function standsAlone(text, at, form) {
  if (!form.within) return true;
  const before = text[at - 1] ?? '';
  const after = text[at + form.needle.length] ?? '';
  if (form.within.test(before) || form.within.test(after)) return false;
  // A numeric PIN as part of a decimal number (0.1234, 1234.5) is a number, not the PIN.
  const digitBeyond = (i) => /\d/.test(text[i] ?? '');
  if (
    form.numeric &&
    ((before === '.' && digitBeyond(at - 2)) || (after === '.' && digitBeyond(at + form.needle.length + 1)))
  )
    return false;
  return true;
}

/** Where `text` first shows `value` in one of its forms: {form, index, length}, or undefined. */
function findSecret(text, value) {
  for (const form of formsOf(value)) {
    for (let i = text.indexOf(form.needle); i >= 0; i = text.indexOf(form.needle, i + 1)) {
      if (standsAlone(text, i, form)) return { form: form.name, index: i, length: form.needle.length };
    }
  }
  return undefined;
}

/** `text` with every form of every secret replaced by «its label», for printing a hit. */
function maskSecrets(text, secrets) {
  const needles = secrets
    .flatMap((s) => formsOf(s.value).map((f) => ({ needle: f.needle, label: s.label })))
    .sort((a, b) => b.needle.length - a.needle.length);
  return needles.reduce((t, { needle, label }) => t.split(needle).join(`«${label}»`), text);
}

module.exports = { MIN_SECRET_LENGTH, findSecret, formsOf, maskSecrets };
