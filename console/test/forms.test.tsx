// The forms in a DOM (jsdom): errors appear beside their fields, and nothing is sent while
// the form is invalid. fetch is replaced by a recorder that answers as the admin API does;
// the browser test (test/browser.mjs) runs the same forms against a real jeton.
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import type { Webhook } from '../src/api';
import { ForbiddenWords } from '../src/pages/lifecycle';
import { CreateTenant, TenantPage } from '../src/pages/tenants';
import { CreateUser } from '../src/pages/users';
import { WebhooksPage, webhookEvents, webhookForm } from '../src/pages/webhooks';

let root: HTMLElement;
let requests: { method: string; url: string; body: unknown }[];
let answer: (method: string, url: string) => { status: number; body: unknown };

beforeEach(() => {
  root = document.createElement('div');
  document.body.append(root);
  requests = [];
  answer = () => ({ status: 404, body: { title: 'Not found', status: 404 } });
  vi.stubGlobal('fetch', vi.fn(async (url: string, init: RequestInit) => {
    const method = init.method ?? 'GET';
    requests.push({ method, url, body: init.body ? JSON.parse(String(init.body)) : undefined });
    const a = answer(method, url);
    const type = a.status >= 400 ? 'application/problem+json' : 'application/json';
    return new Response(JSON.stringify(a.body), { status: a.status, headers: { 'Content-Type': type } });
  }));
});

afterEach(() => {
  render(null, root);
  root.remove();
  vi.unstubAllGlobals();
});

const flush = () => act(async () => { for (let i = 0; i < 5; i++) await new Promise((ok) => setTimeout(ok, 5)); });

async function type(label: string, value: string) {
  const el = [...root.querySelectorAll('label')].find((l) => l.textContent === label);
  const input = root.querySelector<HTMLInputElement>(`#${el!.htmlFor}`)!;
  await act(() => {
    input.value = value;
    input.dispatchEvent(new Event('input', { bubbles: true }));
  });
  return input;
}

async function submit() {
  await act(() => { root.querySelector('form')!.dispatchEvent(new Event('submit', { bubbles: true, cancelable: true })); });
  await flush();
}

/** errorOf is the error text tied to the field labelled label (aria-describedby). */
function errorOf(label: string): string | null {
  const el = [...root.querySelectorAll('label')].find((l) => l.textContent === label)!;
  const input = root.querySelector(`#${el.htmlFor}`)!;
  const ids = (input.getAttribute('aria-describedby') ?? '').split(' ').filter(Boolean);
  const err = ids.map((id) => root.querySelector(`#${id}.field-error`)).find(Boolean);
  return err ? err.textContent : null;
}

test('a tenant slug is checked before anything is sent', async () => {
  render(<CreateTenant />, root);
  await type('Slug', 'Not A Slug');
  await submit();
  expect(errorOf('Slug')).toContain('lowercase letters');
  expect(root.querySelector('[aria-invalid="true"]')).not.toBeNull();
  expect(requests).toEqual([]);
});

test('the API refusing a slug shows its problem, title and detail', async () => {
  answer = () => ({ status: 409, body: { type: 'https://jeton.dev/problems/conflict', title: 'Conflict', status: 409, detail: 'it exists already' } });
  render(<CreateTenant />, root);
  await type('Slug', 'acme');
  await submit();
  expect(requests).toEqual([{ method: 'POST', url: '/admin/v1/tenants', body: { slug: 'acme' } }]);
  expect(root.querySelector('[role=alert]')!.textContent).toBe('Conflict (409)it exists already');
});

test('a new user: the password twice, the tenant policy inline', async () => {
  answer = (method, url) => (method === 'GET' && url === '/admin/v1/tenants/acme'
    ? { status: 200, body: { slug: 'acme', min_password_length: 20 } }
    : { status: 500, body: { title: 'unexpected', status: 500 } });
  render(<CreateUser slug="acme" />, root);
  await flush();
  await type('Username', 'alice');
  await type('Password', 'nineteen characters');
  await type('Password again', 'something else');
  await submit();
  expect(errorOf('Password')).toBe('at least 20 characters (this one has 19)');
  await type('Password', 'twenty characters ok');
  await submit();
  expect(errorOf('Password')).toBeNull();
  expect(errorOf('Password again')).toBe('the two passwords differ');
  expect(requests.map((r) => r.method)).toEqual(['GET']);
});

test("a new user: the API's policy error goes beside the password", async () => {
  answer = (method) => (method === 'GET'
    ? { status: 200, body: { slug: 'acme', min_password_length: null } }
    : { status: 400, body: { type: 'https://jeton.dev/problems/validation', title: 'Invalid field', status: 400,
        detail: 'password is too common', field: 'password' } });
  render(<CreateUser slug="acme" />, root);
  await flush();
  await type('Username', 'alice');
  await type('Password', 'passwordpassword');
  await type('Password again', 'passwordpassword');
  await submit();
  expect(requests[1]).toEqual({ method: 'POST', url: '/admin/v1/tenants/acme/users', body: { username: 'alice', password: 'passwordpassword', scopes: null } });
  expect(errorOf('Password')).toBe('password is too common');
});

const acme = {
  slug: 'acme', name: 'Acme', disabled: false, access_ttl: null, refresh_idle_ttl: null, refresh_max_ttl: null,
  refresh_reuse_grace: '0s', event_retention: null, min_password_length: null, login_backoff_after: null,
  login_user_limit: null, login_ip_limit: null, mfa_policy: 'off', mfa_failure_limit: null, password_history: 0,
  password_max_age: null, password_reset_ttl: '30m', created_at: '2026-01-02T03:04:05Z', updated_at: '2026-01-02T03:04:05Z',
};

/** within scopes the helpers to the form labelled name. */
function form(name: string): HTMLFormElement {
  return root.querySelector<HTMLFormElement>(`form[aria-label="${name}"]`)!;
}

async function submitForm(name: string) {
  await act(() => { form(name).dispatchEvent(new Event('submit', { bubbles: true, cancelable: true })); });
  await flush();
}

async function choose(label: string, value: string) {
  const el = [...root.querySelectorAll('label')].find((l) => l.textContent === label)!;
  const select = root.querySelector<HTMLSelectElement>(`#${el.htmlFor}`)!;
  await act(() => {
    select.value = value;
    select.dispatchEvent(new Event('change', { bubbles: true }));
  });
}

async function check(label: string) {
  const el = [...root.querySelectorAll('label')].find((l) => l.textContent === label)!;
  const box = root.querySelector<HTMLInputElement>(`#${el.htmlFor}`)!;
  await act(() => {
    box.checked = !box.checked;
    box.dispatchEvent(new Event('change', { bubbles: true }));
  });
}

test('tenant settings: the second-factor policy and password history, only what changed is sent', async () => {
  answer = (method, url) => {
    if (url === '/admin/v1/tenants/acme/forbidden-passwords') return { status: 200, body: { words: [] } };
    if (method === 'GET') return { status: 200, body: acme };
    return { status: 200, body: { ...acme, mfa_policy: 'required', password_history: 5 } };
  };
  render(<TenantPage who={{ id: 'k1', name: 'console', tenant: 'acme' }} slug="acme" />, root);
  await flush();
  expect(root.querySelector('h3')!.textContent).toBe('Tokens');
  await choose('Second-factor policy', 'required');
  await type('Password history', '');
  await type('Password maximum age', 'a year');
  await submitForm('Tenant settings');
  expect(errorOf('Password history')).toBe('a number is required');
  expect(errorOf('Password maximum age')).toBe('a duration like 15m, 1h30m or 90d');
  expect(requests.filter((r) => r.method !== 'GET')).toEqual([]);
  await type('Password history', '5');
  await type('Password maximum age', '');
  await submitForm('Tenant settings');
  expect(requests.filter((r) => r.method !== 'GET')).toEqual([
    { method: 'PATCH', url: '/admin/v1/tenants/acme', body: { mfa_policy: 'required', password_history: 5 } },
  ]);
  expect(root.querySelector('[role=status]')!.textContent).toBe('Saved.');
});

test('forbidden words: checked one per line, then sent as a list', async () => {
  answer = (method) => (method === 'GET'
    ? { status: 200, body: { words: ['acme'] } }
    : { status: 200, body: { words: ['acme', 'rocket'] } });
  render(<ForbiddenWords slug="acme" />, root);
  await flush();
  await type('Forbidden words', 'acme\nabc');
  await submitForm('Forbidden passwords');
  expect(errorOf('Forbidden words')).toBe('abc: each word must be 4 to 64 characters');
  expect(requests.map((r) => r.method)).toEqual(['GET']);
  await type('Forbidden words', 'acme\n Rocket \n');
  await submitForm('Forbidden passwords');
  expect(requests[1]).toEqual({ method: 'PUT', url: '/admin/v1/tenants/acme/forbidden-passwords', body: { words: ['acme', 'Rocket'] } });
  expect(root.querySelector('[role=status]')!.textContent).toBe('Saved: 2 words.');
});

test('a new webhook: URL and events checked, then its secret shown once with a copy button', async () => {
  const created = { id: '0b7c6a4e-8f3c-4f0e-9a57-1a2b3c4d5e6f', url: 'https://hooks.example.com/jeton', events: ['login_failure', 'user_created'],
    description: 'SIEM', disabled: false, disabled_at: null, previous_secret_expires_at: null,
    created_at: '2026-01-02T03:04:05Z', updated_at: '2026-01-02T03:04:05Z', secret: `whsec_${'A'.repeat(43)}=` };
  answer = (method) => (method === 'GET' ? { status: 200, body: { items: [] } } : { status: 201, body: created });
  render(<WebhooksPage who={{ id: 'k1', name: 'console', tenant: 'acme' }} slug="acme" />, root);
  await flush();
  await type('URL', 'http://hooks.example.com/jeton');
  await submitForm('Create a webhook');
  expect(errorOf('URL')).toBe('must be an https URL');
  expect(root.querySelector('#webhook-events-error')!.textContent).toBe('choose at least one event kind, or every event');
  await type('URL', 'https://hooks.example.com/jeton');
  await type('Description', 'SIEM');
  await check('login_failure');
  await type('Other kinds', 'user_created Bad');
  await submitForm('Create a webhook');
  expect(root.querySelector('#webhook-events-error')!.textContent).toBe('Bad is not an event kind (lowercase letters, digits, _ and .)');
  await type('Other kinds', 'user_created');
  await submitForm('Create a webhook');
  expect(requests.filter((r) => r.method === 'POST')).toEqual([{ method: 'POST', url: '/admin/v1/tenants/acme/webhooks',
    body: { url: 'https://hooks.example.com/jeton', events: ['login_failure', 'user_created'], description: 'SIEM' } }]);
  const shown = root.querySelector('[aria-label="New webhook secret"]')!;
  expect(shown.querySelector('[data-testid=webhook-secret]')!.textContent).toBe(created.secret);
  expect(shown.textContent).toContain('never shown again');
  expect([...shown.querySelectorAll('button')].map((b) => b.textContent)).toEqual(['Copy', 'Done']);
});

test('webhook forms keep event kinds the console does not list', () => {
  const w = { events: ['login_failure', 'future.kind'], url: 'https://h.example/', description: '' } as Webhook;
  const f = webhookForm(w);
  expect(f).toMatchObject({ every: false, kinds: ['login_failure'], other: 'future.kind' });
  expect(webhookEvents(f)).toEqual(['login_failure', 'future.kind']);
  expect(webhookEvents({ ...f, every: true })).toEqual(['*']);
  expect(webhookForm({ ...w, events: ['*'] }).every).toBe(true);
});
