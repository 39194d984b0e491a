// The admin API client. The admin key lives in sessionStorage only (gone when the tab
// closes), travels only as Authorization: Bearer, and never appears in a URL.

const keyName = 'jeton.adminKey';

export function storedKey(): string | null {
  return sessionStorage.getItem(keyName);
}

export function storeKey(key: string): void {
  sessionStorage.setItem(keyName, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(keyName);
}

/** A problem is an RFC 9457 problem details answer of the admin API. */
export interface Problem {
  type?: string;
  title: string;
  status: number;
  detail?: string;
  field?: string;
}

export class ApiError extends Error {
  constructor(public problem: Problem) {
    super(problem.detail ? `${problem.title}: ${problem.detail}` : problem.title);
  }
}

let onUnauthorized: () => void = () => {};

/** whenUnauthorized runs f when the API answers 401 (the key was revoked meanwhile). */
export function whenUnauthorized(f: () => void): void {
  onUnauthorized = f;
}

type Query = Record<string, string | number | undefined | null>;

export function withQuery(path: string, q?: Query): string {
  if (!q) return path;
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `${path}?${s}` : path;
}

/** request calls the admin API (or /revoke) with the stored key, or with key when given. */
export async function request<T>(method: string, path: string, body?: unknown, key?: string): Promise<T> {
  const k = key ?? storedKey();
  const headers: Record<string, string> = { Accept: 'application/json, application/problem+json' };
  if (k) headers.Authorization = `Bearer ${k}`;
  let payload: BodyInit | undefined;
  if (body instanceof URLSearchParams) {
    payload = body;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let r: Response;
  try {
    r = await fetch(path, { method, headers, body: payload, credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer' });
  } catch {
    throw new ApiError({ title: 'Network error', status: 0, detail: 'jeton did not answer; check that it is running' });
  }
  const text = await r.text();
  if (!r.ok) {
    let p: Problem = { title: r.statusText || `HTTP ${r.status}`, status: r.status };
    try {
      const j = JSON.parse(text);
      if (j && typeof j.title === 'string') p = j;
      else if (j && typeof j.error === 'string') p = { title: j.error, status: r.status, detail: j.error_description };
    } catch { /* not JSON: keep the status line */ }
    if (r.status === 401 && key === undefined) onUnauthorized();
    throw new ApiError(p);
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

export const get = <T>(path: string, q?: Query) => request<T>('GET', withQuery(path, q));
export const post = <T>(path: string, body?: unknown) => request<T>('POST', path, body);
export const patch = <T>(path: string, body: unknown) => request<T>('PATCH', path, body);
export const put = <T>(path: string, body: unknown) => request<T>('PUT', path, body);
export const del = (path: string) => request<void>('DELETE', path);

export const tenantPath = (slug: string, ...rest: string[]) =>
  ['/admin/v1/tenants', slug, ...rest].map((s, i) => (i === 0 ? s : encodeURIComponent(s))).join('/');

/** webhookPath is a webhook route of a tenant, or of the global stream when slug is null. */
export const webhookPath = (slug: string | null, ...rest: string[]) =>
  slug === null ? ['/admin/v1/webhooks', ...rest.map(encodeURIComponent)].join('/') : tenantPath(slug, 'webhooks', ...rest);

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Tenant {
  slug: string;
  name: string;
  disabled: boolean;
  access_ttl: string | null;
  refresh_idle_ttl: string | null;
  refresh_max_ttl: string | null;
  refresh_reuse_grace: string;
  event_retention: string | null;
  min_password_length: number | null;
  login_backoff_after: number | null;
  login_user_limit: number | null;
  login_ip_limit: number | null;
  mfa_policy: MFAPolicy;
  mfa_failure_limit: number | null;
  password_history: number;
  password_max_age: string | null;
  password_reset_ttl: string;
  created_at: string;
  updated_at: string;
}

export type MFAPolicy = 'off' | 'optional' | 'required';

export interface Client {
  client_id: string;
  name: string;
  public: boolean;
  disabled: boolean;
  grant_types: string[];
  scopes: string[];
  default_scopes: string[] | null;
  introspect: boolean;
  allowed_origins: string[];
  forwards_user_ip: boolean;
  first_party: boolean;
  password_reset: boolean;
  access_ttl: string | null;
  refresh_idle_ttl: string | null;
  refresh_max_ttl: string | null;
  secrets: { created_at: string; expires_at: string | null }[];
  created_at: string;
  updated_at: string;
  client_secret?: string;
}

export interface User {
  id: string;
  username: string;
  disabled: boolean;
  scopes: string[] | null;
  mfa: { totp: boolean; recovery_codes_left: number };
  created_at: string;
  updated_at: string;
  password_changed_at: string;
  /** Set while the user must change the password before getting tokens. */
  password_change_reason: 'admin' | 'breached' | 'expired' | null;
}

/** One login throttle counter; address is empty for the username's own counter. */
export interface Throttle {
  address: string;
  failures: number;
  refused: number;
  blocked_until: string | null;
  expires_at: string;
}

export interface Throttles {
  addresses: Throttle[];
  user: Throttle | null;
  backoff_after: number;
  user_limit: number;
  known_addresses: { address: string; last_success_at: string }[];
}

export interface ResetToken {
  reset_token: string;
  expires_at: string;
}

export interface Webhook {
  id: string;
  url: string;
  events: string[];
  description: string;
  disabled: boolean;
  disabled_at: string | null;
  disabled_reason?: string;
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
  /** The signing secret, in the answers to create and rotate-secret only. */
  secret?: string;
}

export interface Delivery {
  event_id: number;
  state: 'pending' | 'delivered' | 'failed' | 'skipped';
  attempts: number;
  created_at: string;
  first_attempt_at: string | null;
  last_attempt_at: string | null;
  next_attempt_at: string | null;
  last_status: number | null;
  last_latency_ms: number | null;
  last_error: string;
  last_response: string;
}

export interface WebhookTest {
  delivered: boolean;
  status: number | null;
  latency_ms: number;
  error: string;
  response: string;
}

export interface Session {
  id: string;
  client_id: string;
  scope: string;
  created_at: string;
  last_refreshed_at: string | null;
  expires_at: string;
}

export interface Event {
  id: number;
  at: string;
  kind: string;
  actor: { type: string; id: string; name: string };
  subject: { type: string; id?: string; name?: string } | null;
  client_id?: string;
  user_id?: string;
  client_ip?: string;
  request_id?: string;
  detail: Record<string, unknown>;
}

/** Who is signed in: a global key (tenant null), or a key of one tenant. */
export interface Identity {
  id: string;
  name: string;
  tenant: string | null;
}

/** identify checks key against the admin API and says whose it is. */
export const identify = (key: string) => request<Identity>('GET', '/admin/v1/key', undefined, key);
