// A tenant's settings as the settings form edits them: text inputs, "" meaning the
// deployment's default (null in the API) unless the setting is required.
import type { Tenant } from './api';
import { compact, validateCount, validateDuration, type Errors } from './validate';

export type SettingKey = 'access_ttl' | 'refresh_idle_ttl' | 'refresh_max_ttl' | 'refresh_reuse_grace' | 'event_retention'
  | 'min_password_length' | 'password_history' | 'password_max_age' | 'password_reset_ttl'
  | 'mfa_policy' | 'mfa_failure_limit' | 'login_backoff_after' | 'login_user_limit' | 'login_ip_limit';

export interface Setting {
  key: SettingKey;
  label: string;
  hint: string;
  kind: 'duration' | 'count' | 'policy';
  /** What an empty field means; required settings cannot be empty. */
  empty?: string;
  required?: boolean;
}

export const mfaPolicies = [
  ['off', 'Off: never ask for a second factor'],
  ['optional', 'Optional: ask the users who have one'],
  ['required', 'Required: everyone (users without one enrol at login)'],
] as const;

export const settingGroups: { title: string; settings: Setting[] }[] = [
  {
    title: 'Tokens',
    settings: [
      { key: 'access_ttl', label: 'Access token lifetime', hint: 'default 15m, at most the deployment maximum', kind: 'duration' },
      { key: 'refresh_idle_ttl', label: 'Refresh token lifetime (idle)', hint: 'default 14d', kind: 'duration' },
      { key: 'refresh_max_ttl', label: 'Session lifetime (absolute)', hint: 'default 90d', kind: 'duration' },
      { key: 'refresh_reuse_grace', label: 'Refresh reuse grace', hint: '0s to 60s: a reuse by the same client within it revokes nothing', kind: 'duration', required: true },
      { key: 'event_retention', label: 'Event retention', hint: 'default 90d', kind: 'duration' },
    ],
  },
  {
    title: 'Passwords',
    settings: [
      { key: 'min_password_length', label: 'Minimum password length', hint: '8 to 64 code points; default 15', kind: 'count' },
      { key: 'password_history', label: 'Password history', hint: '0 to 24: a new password may not repeat the last N (the current one included)', kind: 'count', required: true },
      { key: 'password_max_age', label: 'Password maximum age', hint: 'at least 1d: a login with an older password must change it', kind: 'duration', empty: 'never' },
      { key: 'password_reset_ttl', label: 'Reset token lifetime', hint: '1m to 24h', kind: 'duration', empty: '30m' },
    ],
  },
  {
    title: 'Logins and second factor',
    settings: [
      { key: 'mfa_policy', label: 'Second-factor policy', hint: 'other than off needs a key ring (JETON_SECRET_KEYS)', kind: 'policy', required: true },
      { key: 'mfa_failure_limit', label: 'Wrong second-factor codes per user per 15 minutes', hint: '1 to 1,000; default 10', kind: 'count' },
      { key: 'login_backoff_after', label: 'Failed logins before back-off', hint: 'of one username from one address; default 5', kind: 'count' },
      { key: 'login_user_limit', label: 'Failed logins per username per hour', hint: 'default 100', kind: 'count' },
      { key: 'login_ip_limit', label: 'Failed logins per address per hour', hint: 'default 100', kind: 'count' },
    ],
  },
];

const settings = settingGroups.flatMap((g) => g.settings);
const settingOf = (k: string) => settings.find((s) => s.key === k);

export type TenantForm = Record<SettingKey | 'name', string>;

export function tenantForm(t: Tenant): TenantForm {
  const f = { name: t.name } as TenantForm;
  for (const s of settings) f[s.key] = t[s.key] === null ? '' : String(t[s.key]);
  return f;
}

/** tenantChanges is the PATCH body of the fields that differ; "" resets to the default (null). */
export function tenantChanges(before: Record<string, string>, after: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(after)) {
    if (after[k] === before[k]) continue;
    const v = after[k].trim();
    const s = settingOf(k);
    if (!s || s.kind === 'policy') out[k] = v;
    else if (v === '' && !s.required) out[k] = null;
    else out[k] = s.kind === 'count' ? Number(v) : v;
  }
  return out;
}

export function validateTenantForm(f: Record<string, string>): Errors {
  const e: Record<string, string | undefined> = {};
  for (const s of settings) {
    const v = f[s.key] ?? '';
    if (s.kind === 'duration') e[s.key] = validateDuration(v, !s.required);
    else if (s.kind === 'count') e[s.key] = validateCount(v, !s.required);
    else e[s.key] = mfaPolicies.some(([p]) => p === v) ? undefined : 'off, optional or required';
  }
  if (!f.name.trim()) e.name = 'a name is required';
  return compact(e);
}
