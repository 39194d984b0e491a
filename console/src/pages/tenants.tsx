import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { del, get, patch, post, tenantPath, type Page, type Tenant } from '../api';
import { Field, Input, Pager, ProblemBox, fieldErrors, useAction, useConfirm, useLoad, usePages, useSubmit, when } from '../components';
import { href, navigate } from '../route';
import type { PageProps } from '../sections';
import { mfaPolicies, settingGroups, tenantChanges, tenantForm, validateTenantForm, type Setting, type SettingKey, type TenantForm } from '../settings';
import { compact, validateSlug, type Errors } from '../validate';
import { ForbiddenWords } from './lifecycle';

export function TenantsPage({ who }: PageProps) {
  const [prefix, setPrefix] = useState('');
  const pages = usePages(prefix);
  const list = useLoad(() => get<Page<Tenant>>('/admin/v1/tenants', { prefix, cursor: pages.cursor, limit: 25 }), [prefix, pages.cursor]);
  return (
    <section>
      <h1>Tenants</h1>
      <div class="toolbar">
        <Input label="Search by slug" value={prefix} onInput={setPrefix} name="tenant-prefix" placeholder="slug prefix" />
      </div>
      <ProblemBox error={list.error} />
      <table class="list">
        <thead><tr><th>Slug</th><th>Name</th><th>Status</th><th>Created</th></tr></thead>
        <tbody>
          {list.data?.items.map((t) => (
            <tr key={t.slug}>
              <td><a href={href('t', t.slug)}>{t.slug}</a></td>
              <td>{t.name}</td>
              <td>{t.disabled ? <span class="badge off">disabled</span> : <span class="badge on">active</span>}</td>
              <td>{when(t.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {list.data && list.data.items.length === 0 ? <p class="empty">No tenant matches.</p> : null}
      <Pager hasPrev={!!pages.cursor} next={list.data?.next_cursor ?? null} onFirst={pages.first} onNext={() => pages.next(list.data?.next_cursor ?? null)} />
      {who.tenant ? null : <CreateTenant />}
    </section>
  );
}

export function CreateTenant() {
  const [slug, setSlug] = useState('');
  const [name, setName] = useState('');
  const { submit, act, errors: errs } = useSubmit(() => compact({ slug: validateSlug(slug) }),
    () => post<Tenant>('/admin/v1/tenants', { slug, name: name || undefined }),
    (t) => navigate(`/t/${encodeURIComponent(t.slug)}`));
  return (
    <form class="card" onSubmit={submit} noValidate>
      <h2>Create a tenant</h2>
      <Input label="Slug" value={slug} onInput={setSlug} error={errs.slug} name="slug"
        hint="immutable and never reused, even after deletion" />
      <Input label="Name" value={name} onInput={setName} error={errs.name} name="name" hint="display name; default: the slug" />
      <ProblemBox error={act.error} />
      <button type="submit" class="primary" disabled={act.busy}>Create tenant</button>
    </form>
  );
}

export function TenantPage({ who, slug }: PageProps) {
  const t = useLoad(() => get<Tenant>(tenantPath(slug)), [slug]);
  if (t.error) return <section><h1>{slug}</h1><ProblemBox error={t.error} /></section>;
  if (!t.data) return <p>Loading…</p>;
  return <TenantSettings key={t.data.slug} tenant={t.data} global={!who.tenant} onChange={t.setData} />;
}

function TenantSettings({ tenant, global, onChange }: { tenant: Tenant; global: boolean; onChange: (t: Tenant) => void }) {
  const start = tenantForm(tenant);
  const [form, setForm] = useState(start);
  const [errors, setErrors] = useState<Errors>({});
  const [saved, setSaved] = useState(false);
  const act = useAction();
  const [dialog, ask] = useConfirm();
  const set = (k: SettingKey | 'name') => (v: string) => { setSaved(false); setForm({ ...form, [k]: v }); };
  const path = tenantPath(tenant.slug);

  const save = async (e: Event) => {
    e.preventDefault();
    const v = validateTenantForm(form);
    setErrors(v);
    const body = tenantChanges(start, form);
    if (Object.keys(v).length || Object.keys(body).length === 0) return;
    const t = await act.run(() => patch<Tenant>(path, body));
    if (t) { onChange(t); setForm(tenantForm(t)); setSaved(true); }
  };
  const toggle = async () => {
    if (!tenant.disabled && !(await ask({
      title: `Disable tenant ${tenant.slug}?`, confirm: 'Disable tenant',
      body: <p>Every client, user, token and tenant admin key of <b>{tenant.slug}</b> stops at once. Tokens live now stay dead after it is enabled again.</p>,
    }))) return;
    const t = await act.run(() => patch<Tenant>(path, { disabled: !tenant.disabled }));
    if (t) onChange(t);
  };
  const remove = async () => {
    if (!(await ask({
      title: `Delete tenant ${tenant.slug}?`, confirm: 'Delete tenant', typed: tenant.slug,
      body: <p>Every client, user, session and token of <b>{tenant.slug}</b> is deleted. Its slug stays reserved for good. This cannot be undone.</p>,
    }))) return;
    if (await act.run(async () => { await del(path); return true; })) navigate('/tenants');
  };
  const errs = { ...errors, ...fieldErrors(act.error) };
  return (
    <section>
      <h1>{tenant.name} <small class="muted">{tenant.slug}</small> {tenant.disabled ? <span class="badge off">disabled</span> : null}</h1>
      <form class="card grid" onSubmit={save} noValidate aria-label="Tenant settings">
        <h2>Settings</h2>
        {global ? <Input label="Name" value={form.name} onInput={set('name')} error={errs.name} name="name" /> : null}
        {settingGroups.map((g) => (
          <Fragment key={g.title}>
            <h3>{g.title}</h3>
            {g.settings.map((st) => <SettingInput key={st.key} setting={st} form={form} set={set} error={errs[st.key]} />)}
          </Fragment>
        ))}
        <ProblemBox error={act.error} />
        <div class="actions">
          <button type="submit" class="primary" disabled={act.busy}>Save settings</button>
          {saved ? <span role="status">Saved.</span> : null}
        </div>
      </form>
      <ForbiddenWords slug={tenant.slug} />
      {global ? (
        <div class="card danger-zone">
          <h2>Danger zone</h2>
          <button type="button" onClick={toggle}>{tenant.disabled ? 'Enable tenant' : 'Disable tenant'}</button>
          <button type="button" class="danger" onClick={remove}>Delete tenant</button>
        </div>
      ) : <p class="hint">Renaming, disabling and deleting a tenant need a global admin key.</p>}
      <p class="muted">Created {when(tenant.created_at)}, updated {when(tenant.updated_at)}.</p>
      {dialog}
    </section>
  );
}

function SettingInput({ setting: st, form, set, error }: { setting: Setting; form: TenantForm; set: (k: SettingKey) => (v: string) => void; error?: string }) {
  const hint = st.required ? st.hint : `${st.hint}; empty: ${st.empty ?? 'the default'}`;
  if (st.kind !== 'policy') return <Input label={st.label} value={form[st.key]} onInput={set(st.key)} error={error} hint={hint} name={st.key} />;
  return (
    <Field label={st.label} error={error} hint={hint}>
      {(id, d, invalid) => (
        <select id={id} name={st.key} aria-describedby={d} aria-invalid={invalid} value={form[st.key]}
          onChange={(e) => set(st.key)((e.target as HTMLSelectElement).value)}>
          {mfaPolicies.map(([p, label]) => <option key={p} value={p}>{label}</option>)}
        </select>
      )}
    </Field>
  );
}
