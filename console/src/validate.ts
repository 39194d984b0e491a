// Form validation the console does before asking the admin API, which checks everything
// again: these rules only spare a round trip and put the message beside its field.

export type Errors = Record<string, string>;

export const slugRE = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function validateSlug(slug: string): string | undefined {
  if (!slug) return 'a slug is required';
  if (!slugRE.test(slug)) return 'lowercase letters, digits and dashes, starting with a letter or digit, at most 63';
  return undefined;
}

/** codePoints counts what the password policy counts (after NFKC, as jeton does). */
export function codePoints(s: string): number {
  return [...s.normalize('NFKC')].length;
}

/** The deployment's minimum when a tenant sets none (jeton serve --min-password-length). */
export const defaultMinPassword = 15;

export function validateNewPassword(password: string, again: string, min: number | null): Errors {
  const errors: Errors = {};
  const need = min ?? defaultMinPassword;
  if (!password) errors.password = 'a password is required';
  else if (codePoints(password) < need) errors.password = `at least ${need} characters (this one has ${codePoints(password)})`;
  else if (codePoints(password) > 1024) errors.password = 'at most 1024 characters';
  if (password && again !== password) errors.again = 'the two passwords differ';
  return errors;
}

export function validateUsername(username: string): string | undefined {
  if (!username.trim()) return 'a username is required';
  if (username.length > 256) return 'at most 256 characters';
  return undefined;
}

// Durations as the admin API takes them: Go's form ("15m", "1h30m") or whole days ("90d").
const durationRE = /^(\d+d|(\d+(\.\d+)?(h|m|s|ms|us|µs|ns))+)$/;

export function validateDuration(v: string, optional: boolean): string | undefined {
  if (v === '') return optional ? undefined : 'a duration is required';
  if (!durationRE.test(v)) return 'a duration like 15m, 1h30m or 90d';
  return undefined;
}

export function validateCount(v: string, optional: boolean): string | undefined {
  if (v === '') return optional ? undefined : 'a number is required';
  if (!/^\d+$/.test(v)) return 'a whole number';
  return undefined;
}

/** splitList reads a list typed as words separated by spaces, commas or new lines. */
export function splitList(v: string): string[] {
  return v.split(/[\s,]+/).filter((s) => s !== '');
}

export function validateOrigins(v: string): string | undefined {
  for (const o of splitList(v)) {
    let u: URL;
    try {
      u = new URL(o);
    } catch {
      return `${o} is not an origin like https://app.example.com`;
    }
    if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.origin !== o) {
      return `${o} is not an origin like https://app.example.com (scheme, host and port only)`;
    }
  }
  return undefined;
}

export function validateScopes(v: string): string | undefined {
  for (const s of splitList(v)) {
    // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
    if (!/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s)) return `${s} is not a scope (printable ASCII, no quotes or backslashes)`;
  }
  return undefined;
}

/** compact drops the fields without an error. */
export function compact(e: Record<string, string | undefined>): Errors {
  const out: Errors = {};
  for (const [k, v] of Object.entries(e)) if (v) out[k] = v;
  return out;
}

/** wordList reads forbidden words typed one per line. */
export const wordList = (v: string) => v.split('\n').map((w) => w.trim()).filter((w) => w !== '');

export function validateWords(v: string): string | undefined {
  const words = wordList(v);
  if (words.length > 10000) return `at most 10,000 words (these are ${words.length})`;
  const bad = words.find((w) => codePoints(w) < 4 || codePoints(w) > 64);
  return bad === undefined ? undefined : `${bad}: each word must be 4 to 64 characters`;
}

/** validateWebhookURL checks what can be checked here; jeton checks the address it resolves to. */
export function validateWebhookURL(v: string): string | undefined {
  const s = v.trim();
  if (!s) return 'a URL is required';
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return 'an https URL like https://hooks.example.com/jeton';
  }
  if (u.protocol !== 'https:') return 'must be an https URL';
  if (u.username || u.password) return 'must not carry credentials';
  if (s.includes('#')) return 'must not have a fragment';
  return undefined;
}

const eventKindRE = /^[a-z][a-z0-9_.]{0,63}$/;

/** validateEventKinds checks a webhook's event list: 1 to 100 kinds, or "*" alone. */
export function validateEventKinds(kinds: string[]): string | undefined {
  if (kinds.length === 0) return 'choose at least one event kind, or every event';
  if (kinds.length > 100) return `at most 100 event kinds (these are ${kinds.length})`;
  if (kinds.includes('*') && kinds.length > 1) return '"*" (every event) must be alone';
  const bad = kinds.find((k) => k !== '*' && !eventKindRE.test(k));
  return bad === undefined ? undefined : `${bad} is not an event kind (lowercase letters, digits, _ and .)`;
}
