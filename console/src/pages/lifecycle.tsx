// The password lifecycle in the console: a tenant's forbidden words, and on the user page
// the forced change, reset tokens and the login throttles.
import { useState } from 'preact/hooks';
import { del, get, post, put, request, tenantPath, type ResetToken, type Throttle, type Throttles, type User } from '../api';
import { Field, Input, ProblemBox, ShownOnce, fieldErrors, useAction, useConfirm, useLoad, useSubmit, when } from '../components';
import { compact, validateWords, wordList } from '../validate';
import type { UserPanelProps } from './users';

export function ForbiddenWords({ slug }: { slug: string }) {
  const path = tenantPath(slug, 'forbidden-passwords');
  const words = useLoad(() => get<{ words: string[] }>(path), [slug]);
  const [text, setText] = useState<string | null>(null);
  const [saved, setSaved] = useState('');
  const shown = text ?? words.data?.words.join('\n') ?? '';
  const { submit, act, errors } = useSubmit(() => { setSaved(''); return compact({ words: validateWords(shown) }); },
    () => put<{ words: string[] }>(path, { words: wordList(shown) }),
    (r) => { words.setData(r); setText(null); setSaved(`Saved: ${r.words.length} words.`); });
  return (
    <form class="card" onSubmit={submit} noValidate aria-label="Forbidden passwords">
      <h2>Forbidden passwords</h2>
      <ProblemBox error={words.error} />
      <Input label="Forbidden words" value={shown} onInput={(v) => { setSaved(''); setText(v); }} multiline name="forbidden-words"
        error={errors.words}
        hint="one per line, 4 to 64 characters: the tenant's name, its products; a new password may not contain them (case and accents do not count)" />
      <ProblemBox error={act.error && !fieldErrors(act.error).words ? act.error : null} />
      <div class="actions">
        <button type="submit" disabled={act.busy || !words.data}>Save words</button>
        {saved ? <span role="status">{saved}</span> : null}
      </div>
    </form>
  );
}

const reasons = [
  ['admin', 'an admin asked for it'],
  ['breached', 'the password is in a breach'],
  ['expired', 'the password is too old'],
] as const;

/** PasswordLifecycle forces or lifts a password change and issues reset tokens. */
export function PasswordLifecycle({ slug, user, tenant, onChange }: UserPanelProps) {
  const path = tenantPath(slug, 'users', user.id);
  const [reason, setReason] = useState('admin');
  const [reset, setReset] = useState<ResetToken | null>(null);
  const act = useAction();
  const [dialog, ask] = useConfirm();
  const requireChange = async () => {
    if (!(await ask({ title: `Make ${user.username} change the password?`, confirm: 'Require a change',
      body: <p>Her correct password at /token gets no tokens until she sets a new one (the answer carries a reset token{reason === 'breached' ? ', except after a breach without a second factor' : ''}). Her live sessions keep working.</p> }))) return;
    const u = await act.run(() => put<User>(`${path}/password-change-required`, { reason }));
    if (u) onChange({ ...user, ...u });
  };
  const lift = async () => {
    const u = await act.run(() => request<User>('DELETE', `${path}/password-change-required`));
    if (u) onChange({ ...user, ...u });
  };
  const issue = async () => {
    if (!(await ask({ title: `Issue a reset token for ${user.username}?`, confirm: 'Issue reset token',
      body: <p>Whoever holds it can set a new password for {user.username} at /account/v1/password-reset within {tenant?.password_reset_ttl ?? '30m'}. An older reset token of hers stops working.</p> }))) return;
    const r = await act.run(() => post<ResetToken>(`${path}/password-reset`));
    if (r) setReset(r);
  };
  return (
    <div class="card" role="region" aria-label="Password change and reset">
      <h2>Password change and reset</h2>
      <p>Password set {when(user.password_changed_at)}.{' '}
        {user.password_change_reason
          ? <span class="badge off" data-testid="change-required">must change it ({user.password_change_reason})</span>
          : <span class="muted">No change required.</span>}
      </p>
      <ProblemBox error={act.error} />
      {reset ? (
        <div class="card secret" role="region" aria-label="New reset token">
          <ShownOnce value={reset.reset_token} id="reset-token"
            warning={<><b>Copy the reset token now</b>: it is never shown again. Give it to {user.username} over a channel you trust; it works once, until {when(reset.expires_at)}.</>} />
          <button type="button" onClick={() => setReset(null)}>Done</button>
        </div>
      ) : null}
      <div class="toolbar">
        {user.password_change_reason ? (
          <button type="button" class="align-end" onClick={lift} disabled={act.busy}>Lift the required change</button>
        ) : (
          <>
            <Field label="Reason">
              {(id, d) => (
                <select id={id} aria-describedby={d} value={reason} name="change-reason" onChange={(e) => setReason((e.target as HTMLSelectElement).value)}>
                  {reasons.map(([r, label]) => <option key={r} value={r}>{r}: {label}</option>)}
                </select>
              )}
            </Field>
            <button type="button" class="align-end" onClick={requireChange} disabled={act.busy}>Require a password change</button>
          </>
        )}
        <button type="button" class="align-end" onClick={issue} disabled={act.busy || user.disabled}>Issue a reset token</button>
      </div>
      {dialog}
    </div>
  );
}

const blocked = (t: Throttle) => !!t.blocked_until && new Date(t.blocked_until) > new Date();

/** ThrottlePanel shows the user's login throttles and clears them (unblock). */
export function ThrottlePanel({ slug, user }: UserPanelProps) {
  const path = tenantPath(slug, 'users', user.id, 'throttles');
  const [round, setRound] = useState(0);
  const st = useLoad(() => get<Throttles>(path), [path, user.updated_at, round]);
  const act = useAction();
  const [notice, setNotice] = useState('');
  const [dialog, ask] = useConfirm();
  const clear = async () => {
    if (!(await ask({ title: `Unblock ${user.username}?`, confirm: 'Clear throttles',
      body: <p>The back-offs of every address, the username's failure count and her known addresses are cleared: logins of {user.username} are counted afresh from anywhere, attackers' addresses included.</p> }))) return;
    if (await act.run(async () => { await del(path); return true; })) { setNotice('Throttles cleared.'); setRound(round + 1); }
  };
  const d = st.data;
  const empty = d && d.addresses.length === 0 && !d.user && d.known_addresses.length === 0;
  return (
    <div class="card" role="region" aria-label="Login throttles">
      <h2>Login throttles</h2>
      <ProblemBox error={st.error ?? act.error} />
      {notice ? <p role="status" class="notice">{notice}</p> : null}
      {d ? (
        <p class="hint">Back-off after {d.backoff_after} failures of one address; after {d.user_limit} failures of the username,
          addresses she has not logged in from lately are refused.</p>
      ) : null}
      {d?.user ? (
        <p data-testid="username-counter">Username: <b>{d.user.failures}</b> failures, {d.user.refused} refused, counted until {when(d.user.expires_at)}.
          {d.user.failures >= d.user_limit ? <> <span class="badge off">limit reached: unknown addresses refused</span></> : null}</p>
      ) : null}
      {d && d.addresses.length > 0 ? (
        <table class="list throttles">
          <thead><tr><th>Address</th><th>Failures</th><th>Refused</th><th>Blocked until</th><th>Counted until</th></tr></thead>
          <tbody>
            {d.addresses.map((t) => (
              <tr key={t.address} data-blocked={blocked(t) ? 'yes' : 'no'}>
                <td><code>{t.address}</code> {blocked(t) ? <span class="badge off">blocked</span> : null}</td>
                <td>{t.failures}</td>
                <td>{t.refused}</td>
                <td>{when(t.blocked_until)}</td>
                <td>{when(t.expires_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {d && d.known_addresses.length > 0 ? (
        <p>Known addresses (recent successful logins): {d.known_addresses.map((k, i) => (
          <span key={k.address}>{i ? ', ' : ''}<code>{k.address}</code> <small class="muted">{when(k.last_success_at)}</small></span>
        ))}</p>
      ) : null}
      {empty ? <p class="empty">No failed login is counted.</p> : null}
      <button type="button" class="danger" onClick={clear} disabled={act.busy || !d || empty}>Unblock: clear throttles</button>
      {dialog}
    </div>
  );
}
