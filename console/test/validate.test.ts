import { describe, expect, test } from 'vitest';
import { codePoints, splitList, validateDuration, validateEventKinds, validateNewPassword, validateOrigins, validateScopes, validateSlug, validateWebhookURL, validateWords, wordList } from '../src/validate';
import { tenantChanges, validateTenantForm } from '../src/settings';
import { validateClientForm } from '../src/pages/clients';

describe('slugs', () => {
  test.each([
    ['acme', undefined], ['a', undefined], ['acme-eu-2', undefined], ['a'.repeat(63), undefined],
    ['', 'a slug is required'], ['Acme', 'lowercase'], ['-acme', 'lowercase'], ['a'.repeat(64), 'lowercase'], ['ac me', 'lowercase'],
  ])('%j', (slug, want) => {
    const got = validateSlug(slug);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(want);
  });
});

describe('new passwords', () => {
  test('counted in code points after NFKC, as jeton counts them', () => {
    expect(codePoints('ｆｕｌｌｗｉｄｔｈ')).toBe(9);
    expect(codePoints('😀😀')).toBe(2);
  });
  test('the tenant minimum, else the deployment default of 15', () => {
    expect(validateNewPassword('a'.repeat(14), 'a'.repeat(14), null).password).toBe('at least 15 characters (this one has 14)');
    expect(validateNewPassword('a'.repeat(15), 'a'.repeat(15), null)).toEqual({});
    expect(validateNewPassword('a'.repeat(9), 'a'.repeat(9), 10).password).toContain('at least 10');
  });
  test('typed twice', () => {
    expect(validateNewPassword('correct horse battery', 'correct horse batter', null)).toEqual({ again: 'the two passwords differ' });
    expect(validateNewPassword('', '', null)).toEqual({ password: 'a password is required' });
  });
});

test.each([
  ['15m', true], ['1h30m', true], ['90d', true], ['0s', true], ['1.5h', true], ['', true],
  ['15', false], ['m', false], ['1 h', false], ['1w', false], ['-1s', false],
])('duration %j valid: %s', (d, ok) => {
  expect(validateDuration(d, true) === undefined).toBe(ok);
});

test('origins are scheme, host and port only', () => {
  expect(validateOrigins('https://app.example.com\nhttp://localhost:3000')).toBeUndefined();
  expect(validateOrigins('https://app.example.com/')).toContain('scheme, host and port only');
  expect(validateOrigins('https://app.example.com/path')).toContain('not an origin');
  expect(validateOrigins('app.example.com')).toContain('not an origin');
  expect(validateOrigins('ftp://files.example.com')).toContain('not an origin');
});

test('scopes are RFC 6749 scope tokens', () => {
  expect(splitList(' read,write\nadmin ')).toEqual(['read', 'write', 'admin']);
  expect(validateScopes('read write:all')).toBeUndefined();
  expect(validateScopes('read "write"')).toContain('"write" is not a scope');
  expect(validateScopes('caf\u00e9')).toContain('is not a scope');
});

test('tenant settings: only the changed fields, empty resets to the default', () => {
  const before = { name: 'Acme', access_ttl: '15m', refresh_idle_ttl: '', refresh_max_ttl: '', event_retention: '',
    min_password_length: '12', login_backoff_after: '', login_user_limit: '', login_ip_limit: '', refresh_reuse_grace: '0s',
    mfa_policy: 'off', mfa_failure_limit: '', password_history: '0', password_max_age: '', password_reset_ttl: '30m' };
  const after = { ...before, access_ttl: '', min_password_length: '20', login_ip_limit: '500', refresh_reuse_grace: '10s',
    mfa_policy: 'optional', mfa_failure_limit: '5', password_history: '3', password_max_age: '180d', password_reset_ttl: '' };
  expect(tenantChanges(before, after)).toEqual({ access_ttl: null, min_password_length: 20, login_ip_limit: 500, refresh_reuse_grace: '10s',
    mfa_policy: 'optional', mfa_failure_limit: 5, password_history: 3, password_max_age: '180d', password_reset_ttl: null });
  expect(tenantChanges(before, before)).toEqual({});
  expect(validateTenantForm(after)).toEqual({});
  expect(validateTenantForm({ ...after, access_ttl: 'soon', login_user_limit: '1.5', name: ' ' })).toEqual({
    access_ttl: 'a duration like 15m, 1h30m or 90d', login_user_limit: 'a whole number', name: 'a name is required',
  });
});

test('tenant settings: the required ones cannot be emptied, the policy is one of three', () => {
  const f = { name: 'Acme', access_ttl: '', refresh_idle_ttl: '', refresh_max_ttl: '', event_retention: '', min_password_length: '',
    login_backoff_after: '', login_user_limit: '', login_ip_limit: '', refresh_reuse_grace: '', mfa_policy: 'sometimes',
    mfa_failure_limit: '-1', password_history: '', password_max_age: '1 year', password_reset_ttl: '' };
  expect(validateTenantForm(f)).toEqual({
    refresh_reuse_grace: 'a duration is required', password_history: 'a number is required', mfa_policy: 'off, optional or required',
    mfa_failure_limit: 'a whole number', password_max_age: 'a duration like 15m, 1h30m or 90d',
  });
});

test('forbidden words: one per line, 4 to 64 characters each', () => {
  expect(wordList(' acme \n\nrocket\n')).toEqual(['acme', 'rocket']);
  expect(validateWords('acme\nrocketship')).toBeUndefined();
  expect(validateWords('acme\nabc')).toBe('abc: each word must be 4 to 64 characters');
  expect(validateWords('a'.repeat(65))).toContain('4 to 64');
  expect(validateWords(Array.from({ length: 10001 }, (_, i) => `word${i}`).join('\n'))).toBe('at most 10,000 words (these are 10001)');
});

test('webhook URLs: https, no credentials, no fragment', () => {
  expect(validateWebhookURL('https://hooks.example.com/jeton')).toBeUndefined();
  expect(validateWebhookURL('https://127.0.0.1:8443/hook?x=1')).toBeUndefined();
  expect(validateWebhookURL('')).toBe('a URL is required');
  expect(validateWebhookURL('http://hooks.example.com/')).toBe('must be an https URL');
  expect(validateWebhookURL('hooks.example.com')).toContain('an https URL like');
  expect(validateWebhookURL('https://user:pw@hooks.example.com/')).toBe('must not carry credentials');
  expect(validateWebhookURL('https://hooks.example.com/#x')).toBe('must not have a fragment');
});

test('webhook events: 1 to 100 kinds, or * alone', () => {
  expect(validateEventKinds(['*'])).toBeUndefined();
  expect(validateEventKinds(['login_failure', 'webhook.test'])).toBeUndefined();
  expect(validateEventKinds([])).toContain('at least one');
  expect(validateEventKinds(['*', 'login_failure'])).toBe('"*" (every event) must be alone');
  expect(validateEventKinds(['Login'])).toBe('Login is not an event kind (lowercase letters, digits, _ and .)');
  expect(validateEventKinds(Array.from({ length: 101 }, (_, i) => `k${i}`))).toContain('at most 100');
});

test('client form: default scopes among the scopes, origins and lifetimes checked', () => {
  const ok = { name: 'web', grants: ['password'], scopes: 'read write', defaultScopes: 'read', introspect: false, firstParty: false, passwordReset: false,
    origins: 'https://app.example.com', accessTTL: '10m', refreshIdleTTL: '', refreshMaxTTL: '' };
  expect(validateClientForm(ok)).toEqual({});
  expect(validateClientForm({ ...ok, defaultScopes: 'admin', name: '', origins: 'https://x/', refreshMaxTTL: 'forever' })).toEqual({
    name: 'a name is required', default_scopes: 'default scopes must be among the scopes',
    allowed_origins: 'https://x/ is not an origin like https://app.example.com (scheme, host and port only)',
    refresh_max_ttl: 'a duration like 15m, 1h30m or 90d',
  });
});
