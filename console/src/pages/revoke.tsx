import { useState } from 'preact/hooks';
import { ApiError, get, post, request, tenantPath, type Page, type User } from '../api';
import { Input, ProblemBox, useAction, useConfirm } from '../components';
import type { PageProps } from '../sections';

export function RevokePage({ slug }: PageProps) {
  const [token, setToken] = useState('');
  const [username, setUsername] = useState('');
  const [clientID, setClientID] = useState('');
  const [notice, setNotice] = useState('');
  const [tokenError, setTokenError] = useState('');
  const act = useAction();
  const [dialog, ask] = useConfirm();
  const done = (what: string) => setNotice(what);

  const revokeToken = async (e: Event) => {
    e.preventDefault();
    setNotice('');
    const t = token.trim();
    if (!/^j[ar]t_[0-9A-Za-z]{49}$/.test(t)) { setTokenError('an access token (jat_…) or a refresh token (jrt_…), 53 characters'); return; }
    setTokenError('');
    const refresh = t.startsWith('jrt_');
    if (!(await ask({ title: 'Revoke this token?', confirm: 'Revoke token',
      body: <p>{refresh ? 'A refresh token: its whole session stops working, every access token of that login included.' : 'This access token stops working at once.'} An unknown or already revoked token changes nothing.</p> }))) return;
    // RFC 7009 with the admin key as the credentials: 200 whether or not the token existed.
    if (await act.run(async () => { await request('POST', '/revoke', new URLSearchParams({ token: t })); return true; })) {
      setToken(''); done('Token revoked (or it was not live).');
    }
  };
  const revokeUser = async (e: Event) => {
    e.preventDefault();
    setNotice('');
    const u = await act.run(async () => {
      // The API matches usernames after PRECIS case mapping; lower case is the common part.
      const want = username.trim().toLowerCase();
      const p = await get<Page<User>>(tenantPath(slug, 'users'), { prefix: want, limit: 10 });
      const found = p.items.find((x) => x.username === want);
      if (!found) throw new ApiError({ title: 'Not found', status: 404, detail: `${slug} has no user ${username.trim()}` });
      return found;
    });
    if (!u) return;
    if (!(await ask({ title: `Revoke every token of ${u.username}?`, confirm: 'Revoke user tokens',
      body: <p>Every access and refresh token of <b>{u.username}</b>, on every client of {slug}, stops working. They must log in again.</p> }))) return;
    const r = await act.run(() => post<{ revoked: number | null }>(tenantPath(slug, 'users', u.id, 'revoke')));
    if (r) done(`Revoked ${r.revoked ?? 'every'} token(s) of ${u.username}.`);
  };
  const revokeClient = async (e: Event) => {
    e.preventDefault();
    setNotice('');
    const id = clientID.trim();
    if (!(await ask({ title: `Revoke every token of ${id}?`, confirm: 'Revoke client tokens',
      body: <p>Every access and refresh token issued to client <code>{id}</code> stops working; its users must log in again.</p> }))) return;
    const r = await act.run(() => post<{ revoked: number | null }>(tenantPath(slug, 'clients', id, 'revoke')));
    if (r) done(`Revoked ${r.revoked ?? 'every'} token(s) of ${id}.`);
  };
  const revokeTenant = async () => {
    setNotice('');
    if (!(await ask({ title: `Revoke every token of ${slug}?`, confirm: 'Revoke all tokens', typed: slug,
      body: <p>Every access and refresh token of every user and client of <b>{slug}</b> stops working at once. Every app must log its users in again.</p> }))) return;
    const r = await act.run(() => post<{ revoked: number | null }>(tenantPath(slug, 'revoke')));
    if (r) done(`Revoked ${r.revoked ?? 'every'} token(s) of ${slug}.`);
  };
  return (
    <section>
      <h1>Revocation</h1>
      <ProblemBox error={act.error} />
      {notice ? <p role="status" class="notice">{notice}</p> : null}
      <form class="card" onSubmit={revokeToken} noValidate aria-label="Revoke a token">
        <h2>A token</h2>
        <Input label="Token" type="password" value={token} onInput={setToken} error={tokenError} name="token" hint="paste an access or refresh token; it is sent to /revoke only" />
        <button type="submit" class="danger">Revoke token</button>
      </form>
      <form class="card" onSubmit={revokeUser} noValidate aria-label="Revoke a user's tokens">
        <h2>Every token of a user</h2>
        <Input label="Username" value={username} onInput={setUsername} name="revoke-username" />
        <button type="submit" class="danger" disabled={!username.trim()}>Revoke user tokens</button>
      </form>
      <form class="card" onSubmit={revokeClient} noValidate aria-label="Revoke a client's tokens">
        <h2>Every token of a client</h2>
        <Input label="client_id" value={clientID} onInput={setClientID} name="revoke-client" />
        <button type="submit" class="danger" disabled={!clientID.trim()}>Revoke client tokens</button>
      </form>
      <div class="card danger-zone">
        <h2>Every token of the tenant</h2>
        <button type="button" class="danger" onClick={revokeTenant}>Revoke all tokens of {slug}</button>
      </div>
      {dialog}
    </section>
  );
}
