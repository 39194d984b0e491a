import { useState } from 'preact/hooks';
import { del, get, patch, post, tenantPath, type Client, type Page } from '../api';
import { Checkbox, Input, Pager, ProblemBox, ShownOnce, fieldErrors, useAction, useConfirm, useLoad, usePages, useSubmit, when } from '../components';
import { href, navigate } from '../route';
import type { PageProps } from '../sections';
import { compact, splitList, validateDuration, validateOrigins, validateScopes, type Errors } from '../validate';

const grantTypes = ['password', 'refresh_token', 'client_credentials', 'authorization_code'] as const;

export function ClientsPage({ slug, who }: PageProps) {
  const [search, setSearch] = useState('');
  const pages = usePages(search);
  const [created, setCreated] = useState<Client | null>(null);
  const list = useLoad(() => get<Page<Client>>(tenantPath(slug, 'clients'), { search, cursor: pages.cursor, limit: 25 }), [slug, search, pages.cursor]);
  return (
    <section>
      <h1>Clients</h1>
      {created ? <NewSecret client={created} slug={slug} onDone={() => setCreated(null)} /> : null}
      <div class="toolbar">
        <Input label="Search by name or client_id" value={search} onInput={setSearch} name="client-search" />
      </div>
      <ProblemBox error={list.error} />
      {list.error ? null : (
        <table class="list">
          <thead><tr><th>Name</th><th>client_id</th><th>Kind</th><th>Grants</th><th>Status</th></tr></thead>
          <tbody>
            {list.data?.items.map((c) => (
              <tr key={c.client_id}>
                <td><a href={href('t', slug, 'clients', c.client_id)}>{c.name}</a></td>
                <td><code>{c.client_id}</code></td>
                <td>{c.public ? 'public' : 'confidential'}{c.introspect ? ', resource server' : ''}</td>
                <td>{c.grant_types.join(', ') || '—'}</td>
                <td>{c.disabled ? <span class="badge off">disabled</span> : <span class="badge on">active</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list.data && list.data.items.length === 0 ? <p class="empty">No client matches.</p> : null}
      <Pager hasPrev={!!pages.cursor} next={list.data?.next_cursor ?? null} onFirst={pages.first} onNext={() => pages.next(list.data?.next_cursor ?? null)} />
      {list.error ? null : <CreateClient slug={slug} global={!who.tenant} onCreated={(c) => { setCreated(c); list.reload(); }} />}
    </section>
  );
}

/** NewSecret shows a secret once, right after creation or rotation. */
function NewSecret({ client, slug, onDone }: { client: Client; slug: string; onDone: () => void }) {
  return (
    <div class="card secret" role="region" aria-label="New client secret">
      <h2>Client {client.name}</h2>
      <p>client_id: <code data-testid="new-client-id">{client.client_id}</code></p>
      {client.client_secret ? (
        <ShownOnce value={client.client_secret} id="new-secret"
          warning={<><b>Copy the secret now.</b> jeton keeps only its hash: it is never shown again. Whoever holds it can act as this client.</>} />
      ) : <p>A public client has no secret.</p>}
      <p><a href={href('t', slug, 'clients', client.client_id)}>Open the client</a> <button type="button" onClick={onDone}>Done</button></p>
    </div>
  );
}

interface ClientForm {
  name: string;
  grants: string[];
  scopes: string;
  defaultScopes: string;
  introspect: boolean;
  firstParty: boolean;
  passwordReset: boolean;
  origins: string;
  accessTTL: string;
  refreshIdleTTL: string;
  refreshMaxTTL: string;
  /** forwardsUserIP is shown, and sent, for a global key only: a tenant key may not set it. */
  forwardsUserIP?: boolean;
}

export function validateClientForm(f: ClientForm): Errors {
  return compact({
    name: f.name.trim() ? undefined : 'a name is required',
    scopes: validateScopes(f.scopes),
    default_scopes: validateScopes(f.defaultScopes) ??
      (splitList(f.defaultScopes).every((s) => splitList(f.scopes).includes(s)) ? undefined : 'default scopes must be among the scopes'),
    allowed_origins: validateOrigins(f.origins),
    access_ttl: validateDuration(f.accessTTL, true),
    refresh_idle_ttl: validateDuration(f.refreshIdleTTL, true),
    refresh_max_ttl: validateDuration(f.refreshMaxTTL, true),
  });
}

function bodyOf(f: ClientForm) {
  const orNull = (v: string) => (v.trim() === '' ? null : v.trim());
  return {
    name: f.name.trim(), grant_types: f.grants, scopes: splitList(f.scopes),
    default_scopes: f.defaultScopes.trim() === '' ? null : splitList(f.defaultScopes),
    introspect: f.introspect, first_party: f.firstParty, password_reset: f.passwordReset, allowed_origins: splitList(f.origins),
    access_ttl: orNull(f.accessTTL), refresh_idle_ttl: orNull(f.refreshIdleTTL), refresh_max_ttl: orNull(f.refreshMaxTTL),
    ...(f.forwardsUserIP === undefined ? {} : { forwards_user_ip: f.forwardsUserIP }),
  };
}

function ClientFields({ form, set, errors }: { form: ClientForm; set: (f: ClientForm) => void; errors: Errors }) {
  const grant = (g: string) => (on: boolean) => set({ ...form, grants: on ? [...form.grants, g] : form.grants.filter((x) => x !== g) });
  return (
    <>
      <Input label="Name" value={form.name} onInput={(v) => set({ ...form, name: v })} error={errors.name} name="client-name" />
      <fieldset>
        <legend>Grant types</legend>
        {grantTypes.map((g) => <Checkbox key={g} label={g} checked={form.grants.includes(g)} onChange={grant(g)} />)}
        {errors.grant_types ? <small class="field-error">{errors.grant_types}</small> : null}
      </fieldset>
      <Input label="Scopes" value={form.scopes} onInput={(v) => set({ ...form, scopes: v })} error={errors.scopes} name="scopes" hint="separated by spaces" />
      <Input label="Default scopes" value={form.defaultScopes} onInput={(v) => set({ ...form, defaultScopes: v })} error={errors.default_scopes}
        name="default-scopes" hint="granted when none are asked for; empty: all the scopes" />
      <fieldset>
        <legend>Permissions</legend>
        <Checkbox label="Resource server (may call /introspect)" checked={form.introspect} onChange={(v) => set({ ...form, introspect: v })} />
        <Checkbox label="First-party app (may use /authorize-challenge)" checked={form.firstParty} onChange={(v) => set({ ...form, firstParty: v })}
          hint="the tenant's own app logging its users in itself; needs the authorization_code grant" />
        <Checkbox label="May ask for password reset tokens" checked={form.passwordReset} onChange={(v) => set({ ...form, passwordReset: v })}
          hint="a confidential backend that mails its users' reset links (HTTP Basic at .../password-resets)" />
        {form.forwardsUserIP === undefined ? null : (
          <Checkbox label="Forwards its users' addresses (Jeton-Forwarded-For)" checked={form.forwardsUserIP}
            onChange={(v) => set({ ...form, forwardsUserIP: v })} hint="for a confidential backend that sends its users' logins; throttles then count the user's address" />
        )}
        {errors.introspect || errors.first_party || errors.password_reset || errors.forwards_user_ip
          ? <small class="field-error">{errors.introspect || errors.first_party || errors.password_reset || errors.forwards_user_ip}</small> : null}
      </fieldset>
      <Input label="CORS origins" value={form.origins} onInput={(v) => set({ ...form, origins: v })} error={errors.allowed_origins}
        name="origins" multiline hint="browser origins allowed to call the OAuth endpoints as this client, one per line" />
      <details>
        <summary>Lifetimes</summary>
        <Input label="Access token lifetime" value={form.accessTTL} onInput={(v) => set({ ...form, accessTTL: v })} error={errors.access_ttl} hint="empty: the tenant's" name="access-ttl" />
        <Input label="Refresh token lifetime (idle)" value={form.refreshIdleTTL} onInput={(v) => set({ ...form, refreshIdleTTL: v })} error={errors.refresh_idle_ttl} hint="empty: the tenant's" name="refresh-idle-ttl" />
        <Input label="Session lifetime (absolute)" value={form.refreshMaxTTL} onInput={(v) => set({ ...form, refreshMaxTTL: v })} error={errors.refresh_max_ttl} hint="empty: the tenant's" name="refresh-max-ttl" />
      </details>
    </>
  );
}

const emptyForm: ClientForm = { name: '', grants: [], scopes: '', defaultScopes: '', introspect: false, firstParty: false, passwordReset: false, origins: '', accessTTL: '', refreshIdleTTL: '', refreshMaxTTL: '' };

function CreateClient({ slug, global, onCreated }: { slug: string; global: boolean; onCreated: (c: Client) => void }) {
  const start = global ? { ...emptyForm, forwardsUserIP: false } : emptyForm;
  const [form, setForm] = useState(start);
  const [isPublic, setPublic] = useState(false);
  const { submit, act, errors } = useSubmit(() => validateClientForm(form),
    () => post<Client>(tenantPath(slug, 'clients'), { ...bodyOf(form), public: isPublic }),
    (c) => { setForm(start); onCreated(c); });
  return (
    <form class="card" onSubmit={submit} noValidate aria-label="Create a client">
      <h2>Create a client</h2>
      <Checkbox label="Public client (no secret: a browser or mobile app)" checked={isPublic} onChange={setPublic} />
      <ClientFields form={form} set={setForm} errors={errors} />
      <ProblemBox error={act.error} />
      <button type="submit" class="primary" disabled={act.busy}>Create client</button>
    </form>
  );
}

const formOf = (c: Client, global: boolean): ClientForm => ({
  ...(global ? { forwardsUserIP: c.forwards_user_ip } : {}),
  name: c.name, grants: c.grant_types, scopes: c.scopes.join(' '), defaultScopes: (c.default_scopes ?? []).join(' '),
  introspect: c.introspect, firstParty: c.first_party, passwordReset: c.password_reset, origins: c.allowed_origins.join('\n'), accessTTL: c.access_ttl ?? '',
  refreshIdleTTL: c.refresh_idle_ttl ?? '', refreshMaxTTL: c.refresh_max_ttl ?? '',
});

export function ClientPage({ slug, id, who }: PageProps) {
  const c = useLoad(() => get<Client>(tenantPath(slug, 'clients', id)), [slug, id]);
  if (c.error) return <section><h1>Client</h1><ProblemBox error={c.error} /></section>;
  if (!c.data) return <p>Loading…</p>;
  return <ClientDetail key={c.data.client_id} slug={slug} client={c.data} global={!who.tenant} onChange={c.setData} />;
}

function ClientDetail({ slug, client, global, onChange }: { slug: string; client: Client; global: boolean; onChange: (c: Client) => void }) {
  const [form, setForm] = useState(formOf(client, global));
  const [errors, setErrors] = useState<Errors>({});
  const [overlap, setOverlap] = useState('');
  const [rotated, setRotated] = useState<Client | null>(null);
  const [notice, setNotice] = useState('');
  const act = useAction();
  const [dialog, ask] = useConfirm();
  const path = tenantPath(slug, 'clients', client.client_id);

  const save = async (e: Event) => {
    e.preventDefault();
    const v = validateClientForm(form);
    setErrors(v);
    if (Object.keys(v).length) return;
    const c = await act.run(() => patch<Client>(path, bodyOf(form)));
    if (c) { onChange(c); setForm(formOf(c, global)); setNotice('Saved.'); }
  };
  const toggle = async () => {
    if (!client.disabled && !(await ask({
      title: `Disable ${client.name}?`, confirm: 'Disable client',
      body: <p>The client can no longer authenticate at /token, /introspect or /revoke, and every token issued to it stops working, for good.</p>,
    }))) return;
    const c = await act.run(() => patch<Client>(path, { disabled: !client.disabled }));
    if (c) onChange(c);
  };
  const rotate = async () => {
    const v = validateDuration(overlap, true);
    if (v) { setErrors({ previous_valid_for: v }); return; }
    if (!(await ask({
      title: `Rotate the secret of ${client.name}?`, confirm: 'Rotate secret',
      body: <p>A new secret is made. {overlap ? <>The current ones keep working for <b>{overlap}</b>.</> : <>The current secret stops working <b>at once</b>.</>}</p>,
    }))) return;
    const c = await act.run(() => post<Client>(`${path}/secret`, overlap ? { previous_valid_for: overlap } : undefined));
    if (c) { setRotated(c); setOverlap(''); }
  };
  const revokeAll = async () => {
    if (!(await ask({ title: `Revoke every token of ${client.name}?`, confirm: 'Revoke tokens',
      body: <p>Every access and refresh token issued to this client stops working; its users must log in again.</p> }))) return;
    const r = await act.run(() => post<{ revoked: number | null }>(`${path}/revoke`));
    if (r) setNotice(`Revoked ${r.revoked ?? 'the'} tokens.`);
  };
  const remove = async () => {
    if (!(await ask({ title: `Delete ${client.name}?`, confirm: 'Delete client',
      body: <p>The client, its secrets, sessions and tokens are deleted; its events stay.</p> }))) return;
    if (await act.run(async () => { await del(path); return true; })) navigate(`/t/${encodeURIComponent(slug)}/clients`);
  };
  const errs = { ...errors, ...fieldErrors(act.error) };
  const secrets = rotated?.secrets ?? client.secrets;
  return (
    <section>
      <h1>{client.name} {client.disabled ? <span class="badge off">disabled</span> : null}</h1>
      <p><code>{client.client_id}</code> · {client.public ? 'public' : 'confidential'} · created {when(client.created_at)}</p>
      {rotated ? <NewSecret client={rotated} slug={slug} onDone={() => { setRotated(null); onChange(rotated); }} /> : null}
      <ProblemBox error={act.error} />
      {notice ? <p role="status" class="notice">{notice}</p> : null}
      <form class="card" onSubmit={save} noValidate aria-label="Client settings">
        <h2>Settings</h2>
        <ClientFields form={form} set={setForm} errors={errs} />
        <button type="submit" class="primary" disabled={act.busy}>Save client</button>
      </form>
      {client.public ? null : (
        <div class="card">
          <h2>Secrets</h2>
          <table class="list">
            <thead><tr><th>Created</th><th>Valid until</th></tr></thead>
            <tbody>{secrets.map((s) => <tr key={s.created_at}><td>{when(s.created_at)}</td><td>{s.expires_at ? when(s.expires_at) : 'until rotated'}</td></tr>)}</tbody>
          </table>
          <Input label="Keep the current secrets valid for" value={overlap} onInput={setOverlap} error={errs.previous_valid_for}
            hint="e.g. 1h, at most 168h; empty: they stop at once" name="previous-valid-for" />
          <button type="button" onClick={rotate}>Rotate secret</button>
        </div>
      )}
      <div class="card danger-zone">
        <h2>Danger zone</h2>
        <button type="button" onClick={toggle}>{client.disabled ? 'Enable client' : 'Disable client'}</button>
        <button type="button" class="danger" onClick={revokeAll}>Revoke all tokens</button>
        <button type="button" class="danger" onClick={remove}>Delete client</button>
      </div>
      {dialog}
    </section>
  );
}
