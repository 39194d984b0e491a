import { useEffect, useState } from 'preact/hooks';
import { ApiError, forgetKey, identify, storedKey, storeKey, whenUnauthorized, type Identity } from './api';
import { ProblemBox } from './components';
import { match, navigate, useRoute } from './route';
import { globalSections, tenantSections } from './sections';

export function App() {
  const [who, setWho] = useState<Identity | null>(null);
  const [checking, setChecking] = useState(!!storedKey());
  const [notice, setNotice] = useState<unknown>(null);

  const signOut = (why?: unknown) => {
    forgetKey();
    setWho(null);
    setNotice(why ?? null);
    navigate('/');
  };
  useEffect(() => {
    whenUnauthorized(() => signOut(new ApiError({ title: 'Signed out', status: 401, detail: 'jeton no longer accepts this admin key' })));
    const key = storedKey();
    if (!key) return;
    identify(key).then(setWho, (e) => signOut(e)).finally(() => setChecking(false));
  }, []);

  if (checking) return <main class="narrow"><p>Checking the admin key…</p></main>;
  if (!who) return <SignIn notice={notice} onSignedIn={(k, id) => { storeKey(k); setNotice(null); setWho(id); }} />;
  return <Shell who={who} onSignOut={() => signOut()} />;
}

function SignIn({ notice, onSignedIn }: { notice: unknown; onSignedIn: (key: string, who: Identity) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>(notice);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const k = key.trim();
    if (!k.startsWith('jak_')) {
      setError(new ApiError({ title: 'Not an admin key', status: 0, detail: 'an admin key starts with jak_' }));
      return;
    }
    setBusy(true);
    try {
      const who = await identify(k);
      setKey('');
      onSignedIn(k, who);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="narrow signin">
      <h1><span class="logo" aria-hidden="true">j</span> jeton console</h1>
      <form onSubmit={submit} aria-describedby="signin-help">
        <label for="admin-key">Admin key</label>
        <input id="admin-key" name="admin-key" type="password" autocomplete="off" spellcheck={false} value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)} placeholder="jak_…" required />
        <p id="signin-help" class="hint">
          Paste an admin key. It stays in this tab only (sessionStorage) and is gone when the tab closes. Prefer a
          tenant key made for the console (<code>jeton admin-key create --tenant SLUG --name console</code>): it can be
          revoked on its own.
        </p>
        <ProblemBox error={error} />
        <button type="submit" class="primary" disabled={busy}>Sign in</button>
      </form>
    </main>
  );
}

function Shell({ who, onSignOut }: { who: Identity; onSignOut: () => void }) {
  const path = useRoute();
  useEffect(() => {
    if (path === '/') navigate(who.tenant ? `/t/${encodeURIComponent(who.tenant)}` : '/tenants');
  }, [path, who]);

  const inTenant = match('/t/:slug', path.split('/').slice(0, 3).join('/'));
  const slug = inTenant?.slug;
  let page = null;
  for (const s of [...globalSections, ...tenantSections]) {
    for (const r of s.routes) {
      const params = match(r.pattern, path);
      if (params) page = <r.page who={who} {...params} />;
    }
    if (page) break;
  }
  const current = (p: string) => (path === p || path.startsWith(p + '/') ? 'page' : undefined);
  return (
    <div class="shell">
      <header class="top">
        <a class="brand" href="#/"><span class="logo" aria-hidden="true">j</span> jeton console</a>
        <span class="who" data-testid="who">
          {who.tenant ? <>Tenant key <b>{who.name}</b> of <b>{who.tenant}</b></> : <>Global key <b>{who.name}</b></>}
        </span>
        <button type="button" onClick={onSignOut}>Sign out</button>
      </header>
      <nav class="side" aria-label="Sections">
        <ul>
          {who.tenant ? null : globalSections.map((s) => (
            <li key={s.label}><a href={`#${s.path}`} aria-current={current(s.path)}>{s.label}</a></li>
          ))}
          {slug ? (
            <>
              <li class="nav-tenant">{slug}</li>
              {tenantSections.map((s) => {
                const p = `/t/${encodeURIComponent(slug)}${s.path}`;
                return <li key={s.label}><a href={`#${p}`} aria-current={s.path === '' ? (path === p ? 'page' : undefined) : current(p)}>{s.label}</a></li>;
              })}
            </>
          ) : null}
        </ul>
      </nav>
      <main class="content" id="main">
        {page ?? <ProblemBox error={new ApiError({ title: 'Not found', status: 404, detail: 'the console has no such page' })} />}
      </main>
    </div>
  );
}
