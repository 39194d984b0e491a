// The kinds of audit event jeton writes (docs/ADMIN.md, Events), grouped as the events
// filter and the webhook form show them. The API takes any kind; these are the known ones.

export const eventKindGroups: [string, string[]][] = [
  ['Logins', ['login_success', 'login_failure', 'login_throttled', 'mfa_challenged', 'mfa_failure', 'recovery_code_used', 'session_stepped_up']],
  ['Tokens', ['token_issued', 'token_refreshed', 'refresh_reuse_detected', 'token_revoked', 'session_revoked',
    'user_tokens_revoked', 'client_tokens_revoked', 'tenant_tokens_revoked']],
  ['Users', ['user_created', 'user_updated', 'user_disabled', 'user_enabled', 'user_deleted', 'user_password_set',
    'user_password_changed', 'user_password_reset', 'user_password_change_required', 'user_password_change_cleared', 'password_reset_requested',
    'user_throttles_cleared', 'user_migrated', 'users_imported', 'users_exported']],
  ['Second factors', ['mfa_enrolled', 'mfa_removed', 'recovery_codes_regenerated', 'mfa_reset']],
  ['Clients', ['client_created', 'client_updated', 'client_disabled', 'client_enabled', 'client_secret_rotated', 'client_deleted']],
  ['Tenants', ['tenant_created', 'tenant_updated', 'tenant_disabled', 'tenant_enabled', 'tenant_deleted',
    'tenant_forbidden_words_set', 'legacy_login_updated']],
  ['Admin keys', ['admin_key_created', 'admin_key_revoked']],
  ['Webhooks', ['webhook_created', 'webhook_updated', 'webhook_secret_rotated', 'webhook_deleted', 'webhook_disabled']],
];

export const eventKinds = eventKindGroups.flatMap(([, kinds]) => kinds);
