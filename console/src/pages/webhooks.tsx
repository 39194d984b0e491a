// Webhook endpoints (docs/WEBHOOKS.md): a tenant's, or the global stream's for a global
// key (slug undefined). The delivery log and test deliveries are in deliveries.tsx.
import { useState } from 'preact/hooks';
import { del, get, patch, post, webhookPath, type Webhook } from '../api';
import { Checkbox, Input, ProblemBox, ShownOnce, fieldErrors, useAction, useConfirm, useLoad, useSubmit, when } from '../components';
import { eventKindGroups, eventKinds } from '../kinds';
import { navigate } from '../route';
import type { PageProps } from '../sections';
import { compact, splitList, validateEventKinds, validateWebhookURL, type Errors } from '../validate';
import { Deliveries, TestDelivery } from './deliveries';

/** base is the console path of the webhook pages of a tenant, or of the global stream. */
const base = (slug: string | undefined) => (slug === undefined ? '/webhooks' : `/t/${encodeURIComponent(slug)}/webhooks`);

export interface WebhookForm {
  url: string;
  description: string;
  /** every subscribes to every event ("*"). */
  every: boolean;
  kinds: string[];
  /** other holds kinds the console does not list, separated by spaces. */
  other: string;
}

export const emptyWebhookForm: WebhookForm = { url: '', description: '', every: false, kinds: [], other: '' };

export function webhookForm(w: Webhook): WebhookForm {
  const known = w.events.filter((k) => eventKinds.includes(k));
  return { url: w.url, description: w.description, every: w.events.includes('*'), kinds: known,
    other: w.events.filter((k) => k !== '*' && !known.includes(k)).join(' ') };
}

export const webhookEvents = (f: WebhookForm) => (f.every ? ['*'] : [...new Set([...f.kinds, ...splitList(f.other)])]);

export function validateWebhookForm(f: WebhookForm): Errors {
  return compact({
    url: validateWebhookURL(f.url),
    events: validateEventKinds(webhookEvents(f)),
    description: new TextEncoder().encode(f.description).length > 256 ? 'at most 256 bytes' : undefined,
  });
}

export const webhookBody = (f: WebhookForm) => ({ url: f.url.trim(), events: webhookEvents(f), description: f.description.trim() });

function WebhookFields({ form, set, errors }: { form: WebhookForm; set: (f: WebhookForm) => void; errors: Errors }) {
  const kind = (k: string) => (on: boolean) => set({ ...form, kinds: on ? [...form.kinds, k] : form.kinds.filter((x) => x !== k) });
  return (
    <>
      <Input label="URL" value={form.url} onInput={(v) => set({ ...form, url: v })} error={errors.url} name="webhook-url"
        placeholder="https://hooks.example.com/jeton" hint="https; it must resolve to public addresses unless jeton runs with --webhook-allow-private" />
      <Input label="Description" value={form.description} onInput={(v) => set({ ...form, description: v })} error={errors.description} name="webhook-description" />
      <fieldset aria-describedby={errors.events ? 'webhook-events-error' : undefined}>
        <legend>Events</legend>
        <Checkbox label="Every event (*)" checked={form.every} onChange={(v) => set({ ...form, every: v })} />
        {form.every ? null : (
          <div class="kinds">
            {eventKindGroups.map(([group, kinds]) => (
              <div key={group} class="kind-group" role="group" aria-label={group}>
                <b>{group}</b>
                {kinds.map((k) => <Checkbox key={k} label={k} checked={form.kinds.includes(k)} onChange={kind(k)} />)}
              </div>
            ))}
            <Input label="Other kinds" value={form.other} onInput={(v) => set({ ...form, other: v })} name="webhook-other-kinds" hint="separated by spaces" />
          </div>
        )}
        {errors.events ? <small id="webhook-events-error" class="field-error">{errors.events}</small> : null}
      </fieldset>
    </>
  );
}

export function WebhooksPage({ slug, who }: PageProps) {
  const list = useLoad(() => get<{ items: Webhook[] }>(webhookPath(slug ?? null)), [slug]);
  const [created, setCreated] = useState<Webhook | null>(null);
  const global = slug === undefined;
  return (
    <section>
      <h1>{global ? 'Global webhooks' : 'Webhooks'}</h1>
      <p class="hint">{global
        ? 'Endpoints of the global stream: tenant deletions and global admin keys.'
        : 'Endpoints that receive this tenant\'s events, signed as Standard Webhooks signs them (docs/WEBHOOKS.md).'}</p>
      {created?.secret ? (
        <div class="card secret" role="region" aria-label="New webhook secret">
          <h2>Endpoint {created.url}</h2>
          <ShownOnce value={created.secret} id="webhook-secret"
            warning={<><b>Copy the signing secret now</b>: it is never shown again. The receiver checks every delivery's signature with it.</>} />
          <p><a href={`#${base(slug)}/${created.id}`}>Open the endpoint</a> <button type="button" onClick={() => setCreated(null)}>Done</button></p>
        </div>
      ) : null}
      <ProblemBox error={list.error} />
      {list.data ? (
        <table class="list webhooks">
          <thead><tr><th>URL</th><th>Events</th><th>Description</th><th>Status</th><th>Created</th></tr></thead>
          <tbody>
            {list.data.items.map((w) => (
              <tr key={w.id}>
                <td><a href={`#${base(slug)}/${w.id}`}>{w.url}</a></td>
                <td>{w.events.join(', ')}</td>
                <td>{w.description || '—'}</td>
                <td>{w.disabled ? <span class="badge off">disabled</span> : <span class="badge on">active</span>}</td>
                <td>{when(w.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {list.data && list.data.items.length === 0 ? <p class="empty">No endpoint yet.</p> : null}
      {list.error || (global && who.tenant) ? null : <CreateWebhook slug={slug} onCreated={(w) => { setCreated(w); list.reload(); }} />}
    </section>
  );
}

function CreateWebhook({ slug, onCreated }: { slug: string | undefined; onCreated: (w: Webhook) => void }) {
  const [form, setForm] = useState(emptyWebhookForm);
  const { submit, act, errors } = useSubmit(() => validateWebhookForm(form),
    () => post<Webhook>(webhookPath(slug ?? null), webhookBody(form)),
    (w) => { setForm(emptyWebhookForm); onCreated(w); });
  return (
    <form class="card" onSubmit={submit} noValidate aria-label="Create a webhook">
      <h2>Create an endpoint</h2>
      <WebhookFields form={form} set={setForm} errors={errors} />
      <ProblemBox error={act.error} />
      <button type="submit" class="primary" disabled={act.busy}>Create endpoint</button>
    </form>
  );
}

export function WebhookPage({ slug, id }: PageProps) {
  const w = useLoad(() => get<Webhook>(webhookPath(slug ?? null, id)), [slug, id]);
  if (w.error) return <section><h1>Webhook</h1><ProblemBox error={w.error} /></section>;
  if (!w.data) return <p>Loading…</p>;
  return <WebhookDetail key={w.data.id} slug={slug} webhook={w.data} onChange={w.setData} />;
}

function WebhookDetail({ slug, webhook, onChange }: { slug: string | undefined; webhook: Webhook; onChange: (w: Webhook) => void }) {
  const path = webhookPath(slug ?? null, webhook.id);
  const [form, setForm] = useState(webhookForm(webhook));
  const [errors, setErrors] = useState<Errors>({});
  const [rotated, setRotated] = useState<string | null>(null);
  const [notice, setNotice] = useState('');
  const act = useAction();
  const [dialog, ask] = useConfirm();

  const save = async (e: Event) => {
    e.preventDefault();
    setNotice('');
    const v = validateWebhookForm(form);
    setErrors(v);
    if (Object.keys(v).length) return;
    const w = await act.run(() => patch<Webhook>(path, webhookBody(form)));
    if (w) { onChange(w); setForm(webhookForm(w)); setNotice('Saved.'); }
  };
  const toggle = async () => {
    setNotice('');
    if (!webhook.disabled && !(await ask({ title: `Disable ${webhook.url}?`, confirm: 'Disable endpoint',
      body: <p>No new delivery is made to it. What is queued waits, and goes out in order when it is enabled again.</p> }))) return;
    const w = await act.run(() => patch<Webhook>(path, { disabled: !webhook.disabled }));
    if (w) onChange(w);
  };
  const rotate = async () => {
    setNotice('');
    if (!(await ask({ title: 'Rotate the signing secret?', confirm: 'Rotate secret',
      body: <p>A new secret signs every delivery from now on. The current one keeps signing beside it for 24 hours, so the receiver can switch over; then it stops.</p> }))) return;
    const w = await act.run(() => post<Webhook>(`${path}/rotate-secret`));
    if (w) { setRotated(w.secret ?? null); onChange({ ...w, secret: undefined }); }
  };
  const remove = async () => {
    if (!(await ask({ title: `Delete ${webhook.url}?`, confirm: 'Delete endpoint',
      body: <p>The endpoint is deleted with its queue and its delivery log: queued events are never delivered to it.</p> }))) return;
    if (await act.run(async () => { await del(path); return true; })) navigate(base(slug));
  };
  return (
    <section>
      <h1>{webhook.url} {webhook.disabled ? <span class="badge off">disabled</span> : <span class="badge on">active</span>}</h1>
      <p class="muted">id <code>{webhook.id}</code> · created {when(webhook.created_at)}
        {webhook.disabled_at ? <> · disabled {when(webhook.disabled_at)}{webhook.disabled_reason ? `: ${webhook.disabled_reason}` : ''}</> : null}</p>
      {rotated ? (
        <div class="card secret" role="region" aria-label="New webhook secret">
          <ShownOnce value={rotated} id="webhook-secret"
            warning={<><b>Copy the new signing secret now</b>: it is never shown again. The previous one also signs until {when(webhook.previous_secret_expires_at)}.</>} />
          <button type="button" onClick={() => setRotated(null)}>Done</button>
        </div>
      ) : webhook.previous_secret_expires_at ? (
        <p class="notice">The previous secret also signs until {when(webhook.previous_secret_expires_at)}.</p>
      ) : null}
      <ProblemBox error={act.error} />
      {notice ? <p role="status" class="notice">{notice}</p> : null}
      <form class="card" onSubmit={save} noValidate aria-label="Endpoint settings">
        <h2>Settings</h2>
        <WebhookFields form={form} set={setForm} errors={{ ...errors, ...fieldErrors(act.error) }} />
        <button type="submit" class="primary" disabled={act.busy}>Save endpoint</button>
      </form>
      <TestDelivery path={path} />
      <Deliveries path={path} />
      <div class="card danger-zone">
        <h2>Secret and danger zone</h2>
        <button type="button" onClick={rotate}>Rotate secret</button>
        <button type="button" onClick={toggle}>{webhook.disabled ? 'Enable endpoint' : 'Disable endpoint'}</button>
        <button type="button" class="danger" onClick={remove}>Delete endpoint</button>
      </div>
      {dialog}
    </section>
  );
}
