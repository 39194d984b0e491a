import { get, request, tenantPath, type User } from '../api';
import { ProblemBox, useAction, useConfirm } from '../components';
import { href } from '../route';
import type { UserPanelProps } from './users';

/** Factors shows the user's second factors and removes them all (reset). */
export function Factors({ slug, user, tenant, onChange }: UserPanelProps) {
  const act = useAction();
  const [dialog, ask] = useConfirm();
  const policy = tenant?.mfa_policy;
  const has = user.mfa.totp || user.mfa.recovery_codes_left > 0;
  const reset = async () => {
    if (!(await ask({ title: `Reset the second factors of ${user.username}?`, confirm: 'Reset factors',
      body: <p>Her TOTP factor and her {user.mfa.recovery_codes_left} unused recovery codes are removed.{' '}
        {policy === 'required' ? 'She enrols a new factor at her next login.' : 'Until she enrols again, her password alone logs her in.'}</p> }))) return;
    const path = tenantPath(slug, 'users', user.id);
    const u = await act.run(async () => { await request('DELETE', `${path}/mfa`); return get<User>(path); });
    if (u) onChange(u);
  };
  return (
    <div class="card" role="region" aria-label="Second factors">
      <h2>Second factors</h2>
      <p data-testid="factors">
        TOTP: {user.mfa.totp ? <span class="badge on">active</span> : <span class="muted">none</span>}
        {' · '}recovery codes left: <b>{user.mfa.recovery_codes_left}</b>
      </p>
      {policy ? (
        <p class="hint">The tenant's second-factor policy is <b>{policy}</b> (<a href={href('t', slug)}>settings</a>).
          {' '}Users enrol their own factors through the account API.</p>
      ) : null}
      <ProblemBox error={act.error} />
      <button type="button" class="danger" onClick={reset} disabled={act.busy || !has}>Reset second factors</button>
      {dialog}
    </div>
  );
}
