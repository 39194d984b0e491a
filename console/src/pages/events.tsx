import { useEffect, useRef, useState } from 'preact/hooks';
import { get, tenantPath, type Event as AuditEvent, type Page } from '../api';
import { Checkbox, Field, Input, Pager, ProblemBox, useLoad, usePages, when } from '../components';
import { eventKindGroups } from '../kinds';
import { href } from '../route';
import type { PageProps } from '../sections';

/** Live mode asks for new events this often. */
const pollMillis = 2000;

const isoOf = (local: string) => (local ? new Date(local).toISOString() : undefined);

/** EventsPage shows a tenant's audit trail, or the global stream when slug is undefined. */
export function EventsPage({ slug }: PageProps) {
  const path = slug === undefined ? '/admin/v1/events' : tenantPath(slug, 'events');
  const [kind, setKind] = useState('');
  const [user, setUser] = useState('');
  const [client, setClient] = useState('');
  const [since, setSince] = useState('');
  const [until, setUntil] = useState('');
  const [live, setLive] = useState(false);
  const filters = { kind, user: user.trim(), client: client.trim(), since: isoOf(since), until: isoOf(until) };
  const filterKey = JSON.stringify(filters);
  const pages = usePages(filterKey);
  const list = useLoad(() => get<Page<AuditEvent>>(path, { ...filters, cursor: pages.cursor, limit: 50 }), [slug, filterKey, pages.cursor]);
  const [fresh, setFresh] = useState<AuditEvent[]>([]);
  const [liveError, setLiveError] = useState<unknown>(null);
  useEffect(() => setFresh([]), [slug, filterKey, live]);

  // Live mode reads the events after the newest one seen. Event ids are assigned when an
  // event is written and a transaction may commit after one that started later, so each
  // poll starts from the newest id of the poll before the last and skips what it has.
  const newest = [...fresh, ...(list.data?.items ?? [])].reduce((m, e) => Math.max(m, e.id), 0);
  const newestRef = useRef(newest);
  newestRef.current = newest;
  useEffect(() => {
    if (!live || pages.cursor) return;
    let stop = false;
    let after = newestRef.current;
    const seen = new Set<number>();
    const poll = async () => {
      try {
        const got: AuditEvent[] = [];
        let cursor: string | null = null;
        do {
          const p: Page<AuditEvent> = await get<Page<AuditEvent>>(path, { ...filters, after: after || undefined, cursor, limit: 100 });
          got.push(...p.items);
          cursor = p.next_cursor;
        } while (cursor && !stop);
        if (stop) return;
        const known = new Set([...seen]);
        const add = got.filter((e) => !known.has(e.id) && e.id > 0);
        add.forEach((e) => seen.add(e.id));
        if (add.length) setFresh((f) => [...add.filter((e) => !f.some((x) => x.id === e.id)), ...f].sort((a, b) => b.id - a.id));
        after = Math.max(after, newestRef.current);
        setLiveError(null);
      } catch (e) {
        setLiveError(e);
      }
      if (!stop) timer = setTimeout(poll, pollMillis);
    };
    let timer = setTimeout(poll, 0);
    return () => { stop = true; clearTimeout(timer); };
  }, [live, slug, filterKey, pages.cursor]);

  const shown = [...fresh, ...(list.data?.items ?? []).filter((e) => !fresh.some((f) => f.id === e.id))];
  return (
    <section>
      <h1>{slug === undefined ? 'Global events' : 'Events'}</h1>
      {slug === undefined ? <p class="hint">The global stream: tenant deletions and global admin keys. Each tenant's own events are on its Events page.</p> : null}
      <form class="card filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <Field label="Kind">
          {(id, d) => (
            <select id={id} aria-describedby={d} value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)} name="kind">
              <option value="">any</option>
              {eventKindGroups.map(([group, kinds]) => (
                <optgroup key={group} label={group}>{kinds.map((k) => <option key={k} value={k}>{k}</option>)}</optgroup>
              ))}
            </select>
          )}
        </Field>
        <Input label="User id" value={user} onInput={setUser} name="user" />
        <Input label="client_id" value={client} onInput={setClient} name="client" />
        <Input label="Since" type="datetime-local" value={since} onInput={setSince} name="since" />
        <Input label="Until" type="datetime-local" value={until} onInput={setUntil} name="until" />
        <Checkbox label="Live: follow new events" checked={live} onChange={setLive} />
      </form>
      <ProblemBox error={list.error ?? liveError} />
      <p class="sr-only" role="status" aria-live="polite">{fresh.length ? `${fresh.length} new events` : ''}</p>
      {list.error ? null : (
        <table class="list events">
          <thead><tr><th>Time</th><th>Kind</th><th>Actor</th><th>Subject</th><th>Client</th><th>IP</th></tr></thead>
          <tbody>
            {shown.map((e) => (
              <tr key={e.id} class={fresh.includes(e) ? 'new' : undefined} data-kind={e.kind}>
                <td>{when(e.at)}</td>
                <td><code>{e.kind}</code>{e.detail.reason ? <small class="muted"> {String(e.detail.reason)}</small> : null}</td>
                <td>{e.actor.type}: {e.actor.name}</td>
                <td>{e.subject ? subject(slug, e) : '—'}</td>
                <td>{e.client_id ? <code>{e.client_id}</code> : '—'}</td>
                <td>{e.client_ip ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list.data && shown.length === 0 ? <p class="empty">No event matches.</p> : null}
      <Pager hasPrev={!!pages.cursor} next={list.data?.next_cursor ?? null} onFirst={pages.first} onNext={() => pages.next(list.data?.next_cursor ?? null)} />
    </section>
  );
}

function subject(slug: string | undefined, e: AuditEvent) {
  const s = e.subject!;
  const name = s.name || s.id || s.type;
  if (slug === undefined) return <>{s.type} {name}</>;
  if (s.type === 'user' && s.id && e.kind !== 'user_deleted') return <>user <a href={href('t', slug, 'users', s.id)}>{name}</a></>;
  if (s.type === 'client' && s.id && e.kind !== 'client_deleted') return <>client <a href={href('t', slug, 'clients', s.id)}>{name}</a></>;
  return <>{s.type} {name}</>;
}
