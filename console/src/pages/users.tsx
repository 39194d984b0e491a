import { useState } from 'preact/hooks';
import { del, get, patch, post, put, tenantPath, type Page, type Session, type Tenant, type User } from '../api';
import { Input, Pager, ProblemBox, fieldErrors, useAction, useConfirm, useLoad, usePages, useSubmit, when } from '../components';
import { href, navigate } from '../route';
import type { PageProps } from '../sections';
import { compact, splitList, validateNewPassword, validateScopes, validateUsername, type Errors } from '../validate';
import { PasswordLifecycle, ThrottlePanel } from './lifecycle';
import { Factors } from './mfa';

/** A panel of the user page; onChange takes the user as an action left her. */
export interface UserPanelProps {
  slug: string;
  user: User;
  /** The user's tenant, once loaded: its policies word what a panel's actions do. */
  tenant: Tenant | undefined;
  onChange: (u: User) => void;
}

export function UsersPage({ slug }: PageProps) {
  const [prefix, setPrefix] = useState('');
  const pages = usePages(prefix);
  const list = useLoad(() => get<Page<User>>(tenantPath(slug, 'users'), { prefix, cursor: pages.cursor, limit: 25 }), [slug, prefix, pages.cursor]);
  return (
    <section>
      <h1>Users</h1>
      <div class="toolbar">
        <Input label="Search by username" value={prefix} onInput={setPrefix} name="user-prefix" placeholder="username prefix" />
      </div>
      <ProblemBox error={list.error} />
      {list.error ? null : (
        <table class="list">
          <thead><tr><th>Username</th><th>Status</th><th>Second factor</th><th>Scopes</th><th>Created</th></tr></thead>
          <tbody>
            {list.data?.items.map((u) => (
              <tr key={u.id}>
                <td><a href={href('t', slug, 'users', u.id)}>{u.username}</a></td>
                <td>{u.disabled ? <span class="badge off">disabled</span> : <span class="badge on">active</span>}
                  {u.password_change_reason ? <> <span class="badge off">must change password</span></> : null}</td>
                <td>{u.mfa.totp ? 'TOTP' : '—'}</td>
                <td>{u.scopes ? u.scopes.join(' ') : 'any'}</td>
                <td>{when(u.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list.data && list.data.items.length === 0 ? <p class="empty">No user matches.</p> : null}
      <Pager hasPrev={!!pages.cursor} next={list.data?.next_cursor ?? null} onFirst={pages.first} onNext={() => pages.next(list.data?.next_cursor ?? null)} />
      {list.error ? null : <CreateUser slug={slug} />}
    </section>
  );
}

/** useTenant reads the tenant whose policies a form follows. */
const useTenant = (slug: string) => useLoad(() => get<Tenant>(tenantPath(slug)), [slug]).data;

export function CreateUser({ slug }: { slug: string }) {
  const min = useTenant(slug)?.min_password_length ?? null;
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [scopes, setScopes] = useState('');
  const { submit, act, errors: errs } = useSubmit(
    () => ({ ...compact({ username: validateUsername(username), scopes: validateScopes(scopes) }), ...validateNewPassword(password, again, min) }),
    () => post<User>(tenantPath(slug, 'users'), { username, password, scopes: scopes.trim() ? splitList(scopes) : null }),
    (u) => navigate(`/t/${encodeURIComponent(slug)}/users/${u.id}`));
  return (
    <form class="card" onSubmit={submit} noValidate aria-label="Create a user">
      <h2>Create a user</h2>
      <Input label="Username" value={username} onInput={setUsername} error={errs.username} name="username" hint="case does not count: Alice is alice" />
      <Input label="Password" type="password" autocomplete="new-password" value={password} onInput={setPassword} error={errs.password} name="password"
        hint={`at least ${min ?? 15} characters`} />
      <Input label="Password again" type="password" autocomplete="new-password" value={again} onInput={setAgain} error={errs.again} name="password-again" />
      <Input label="Scopes" value={scopes} onInput={setScopes} error={errs.scopes} name="user-scopes" hint="empty: no restriction beyond the client's" />
      <ProblemBox error={act.error && !fieldErrors(act.error).password ? act.error : null} />
      <button type="submit" class="primary" disabled={act.busy}>Create user</button>
    </form>
  );
}

export function UserPage({ slug, id }: PageProps) {
  const u = useLoad(() => get<User>(tenantPath(slug, 'users', id)), [slug, id]);
  const tenant = useTenant(slug);
  if (u.error) return <section><h1>User</h1><ProblemBox error={u.error} /></section>;
  if (!u.data) return <p>Loading…</p>;
  const panel: UserPanelProps = { slug, user: u.data, tenant, onChange: u.setData };
  return (
    <section>
      <UserDetail {...panel} />
      <Sessions {...panel} />
      <SetPassword {...panel} />
      <PasswordLifecycle {...panel} />
      <Factors {...panel} />
      <ThrottlePanel {...panel} />
      <DeleteUser {...panel} />
    </section>
  );
}

function UserDetail({ slug, user, onChange }: UserPanelProps) {
  const act = useAction();
  const [dialog, ask] = useConfirm();
  const toggle = async () => {
    if (!user.disabled && !(await ask({ title: `Disable ${user.username}?`, confirm: 'Disable user',
      body: <p>{user.username} can no longer log in, and every token they hold stops working, for good.</p> }))) return;
    const u = await act.run(() => patch<User>(tenantPath(slug, 'users', user.id), { disabled: !user.disabled }));
    if (u) onChange(u);
  };
  return (
    <>
      <h1>{user.username} {user.disabled ? <span class="badge off">disabled</span> : <span class="badge on">active</span>}</h1>
      <p class="muted">id <code>{user.id}</code> · scopes {user.scopes ? user.scopes.join(' ') : 'any'} · created {when(user.created_at)}</p>
      <ProblemBox error={act.error} />
      <p><button type="button" onClick={toggle} disabled={act.busy}>{user.disabled ? 'Enable user' : 'Disable user'}</button></p>
      {dialog}
    </>
  );
}

function Sessions({ slug, user }: UserPanelProps) {
  const list = useLoad(() => get<{ items: Session[] }>(tenantPath(slug, 'users', user.id, 'sessions')), [slug, user.id, user.updated_at]);
  const act = useAction();
  const [notice, setNotice] = useState('');
  const [dialog, ask] = useConfirm();
  const revokeOne = async (s: Session) => {
    if (!(await ask({ title: 'Revoke this session?', confirm: 'Revoke session',
      body: <p>The login of {when(s.created_at)} through <code>{s.client_id}</code> ends: its access and refresh tokens stop working.</p> }))) return;
    if (await act.run(async () => { await del(tenantPath(slug, 'users', user.id, 'sessions', s.id)); return true; })) { setNotice('Session revoked.'); list.reload(); }
  };
  const revokeAll = async () => {
    if (!(await ask({ title: `Revoke every session of ${user.username}?`, confirm: 'Revoke all sessions',
      body: <p>Every access and refresh token of {user.username}, on every client, stops working at once. They must log in again.</p> }))) return;
    const r = await act.run(() => post<{ revoked: number | null }>(tenantPath(slug, 'users', user.id, 'revoke')));
    if (r) { setNotice(`Revoked ${r.revoked ?? 'all'} tokens.`); list.reload(); }
  };
  return (
    <div class="card">
      <h2>Sessions</h2>
      <ProblemBox error={list.error ?? act.error} />
      {notice ? <p role="status" class="notice">{notice}</p> : null}
      {list.data && list.data.items.length === 0 ? <p class="empty">No live session.</p> : null}
      {list.data && list.data.items.length > 0 ? (
        <table class="list sessions">
          <thead><tr><th>Started</th><th>Client</th><th>Scope</th><th>Last refresh</th><th>Expires</th><th><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {list.data.items.map((s) => (
              <tr key={s.id}>
                <td>{when(s.created_at)}</td>
                <td><a href={href('t', slug, 'clients', s.client_id)}><code>{s.client_id}</code></a></td>
                <td>{s.scope}</td>
                <td>{when(s.last_refreshed_at)}</td>
                <td>{when(s.expires_at)}</td>
                <td><button type="button" onClick={() => revokeOne(s)}>Revoke</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <button type="button" class="danger" onClick={revokeAll} disabled={act.busy}>Revoke all sessions</button>
      {dialog}
    </div>
  );
}

function SetPassword({ slug, user, tenant, onChange }: UserPanelProps) {
  const min = tenant?.min_password_length ?? null;
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [errors, setErrors] = useState<Errors>({});
  const [done, setDone] = useState(false);
  const act = useAction();
  const [dialog, ask] = useConfirm();
  const submit = async (e: Event) => {
    e.preventDefault();
    const v = validateNewPassword(password, again, min);
    setErrors(v);
    setDone(false);
    if (Object.keys(v).length) return;
    if (!(await ask({ title: `Set a new password for ${user.username}?`, confirm: 'Set password',
      body: <p>Every token of {user.username} is revoked: they log in again with the new password.</p> }))) return;
    const path = tenantPath(slug, 'users', user.id);
    const u = await act.run(async () => { await put(`${path}/password`, { password }); return get<User>(path); });
    if (u) { setPassword(''); setAgain(''); setDone(true); onChange(u); }
  };
  const errs = { ...errors, ...fieldErrors(act.error) };
  return (
    <form class="card" onSubmit={submit} noValidate aria-label="Set password">
      <h2>Set password</h2>
      <Input label="New password" type="password" autocomplete="new-password" value={password} onInput={setPassword} error={errs.password} name="new-password" hint={`at least ${min ?? 15} characters`} />
      <Input label="New password again" type="password" autocomplete="new-password" value={again} onInput={setAgain} error={errs.again} name="new-password-again" />
      <ProblemBox error={act.error && !fieldErrors(act.error).password ? act.error : null} />
      {done ? <p role="status" class="notice">Password set; every token of {user.username} was revoked.</p> : null}
      <button type="submit" disabled={act.busy}>Set password</button>
      {dialog}
    </form>
  );
}

function DeleteUser({ slug, user }: UserPanelProps) {
  const act = useAction();
  const [dialog, ask] = useConfirm();
  const remove = async () => {
    if (!(await ask({ title: `Delete ${user.username}?`, confirm: 'Delete user',
      body: <p>{user.username}, their sessions and tokens are deleted; their events stay. The username can be used again.</p> }))) return;
    if (await act.run(async () => { await del(tenantPath(slug, 'users', user.id)); return true; })) navigate(`/t/${encodeURIComponent(slug)}/users`);
  };
  return (
    <div class="card danger-zone">
      <h2>Danger zone</h2>
      <ProblemBox error={act.error} />
      <button type="button" class="danger" onClick={remove}>Delete user</button>
      {dialog}
    </div>
  );
}
