// An endpoint's delivery log with redelivery, and test deliveries.
import { useEffect, useState } from 'preact/hooks';
import { get, post, type Delivery, type Page, type WebhookTest } from '../api';
import { Pager, ProblemBox, useAction, useLoad, usePages, when } from '../components';

const stateBadge: Record<Delivery['state'], string> = { delivered: 'badge on', failed: 'badge off', pending: 'badge', skipped: 'badge' };

/** answer says what a receiver answered: its status and latency, else the error. */
function answer(status: number | null, latencyMS: number | null, error: string) {
  const parts = [status === null ? '' : `HTTP ${status}`, latencyMS === null ? '' : `${latencyMS} ms`, error].filter(Boolean);
  return parts.join(' · ') || '—';
}

export function TestDelivery({ path }: { path: string }) {
  const [result, setResult] = useState<WebhookTest | null>(null);
  const act = useAction();
  const send = async () => {
    setResult(null);
    const r = await act.run(() => post<WebhookTest>(`${path}/test`));
    if (r) setResult(r);
  };
  return (
    <div class="card" role="region" aria-label="Test delivery">
      <h2>Test delivery</h2>
      <p class="hint">Sends a signed <code>webhook.test</code> delivery now, outside the queue, and shows the answer.</p>
      <ProblemBox error={act.error} />
      {result ? (
        <div role="status" class={result.delivered ? 'notice' : 'problem'} data-testid="test-result">
          <b>{result.delivered ? 'Delivered' : 'Not delivered'}</b>: {answer(result.status, result.latency_ms, result.error)}
          {result.response ? <pre class="response">{result.response}</pre> : null}
        </div>
      ) : null}
      <button type="button" onClick={send} disabled={act.busy}>{act.busy ? 'Sending…' : 'Send a test delivery'}</button>
    </div>
  );
}

/** How often the log is read again while a delivery is pending. */
const refreshMillis = 2000;

export function Deliveries({ path }: { path: string }) {
  const pages = usePages(path);
  const [round, setRound] = useState(0);
  const log = useLoad(() => get<Page<Delivery>>(`${path}/deliveries`, { cursor: pages.cursor, limit: 25 }), [path, pages.cursor, round]);
  const act = useAction();
  const [notice, setNotice] = useState('');
  // While a delivery is pending, the log follows it to its outcome.
  const pending = log.data?.items.some((d) => d.state === 'pending') ?? false;
  useEffect(() => {
    if (!pending || log.loading) return;
    const t = setTimeout(() => setRound((r) => r + 1), refreshMillis);
    return () => clearTimeout(t);
  }, [pending, log.loading, log.data]);
  const redeliver = async (d: Delivery) => {
    setNotice('');
    const r = await act.run(() => post<Delivery>(`${path}/deliveries/${d.event_id}/redeliver`));
    if (r) { setNotice(`Event ${d.event_id} queued again, at the end of the queue.`); setRound(round + 1); }
  };
  return (
    <div class="card" role="region" aria-label="Delivery log">
      <h2>Delivery log</h2>
      <ProblemBox error={log.error ?? act.error} />
      {notice ? <p role="status" class="notice">{notice}</p> : null}
      {log.data && log.data.items.length > 0 ? (
        <table class="list deliveries">
          <thead><tr><th>Event</th><th>State</th><th>Attempts</th><th>Last attempt</th><th>Answer</th><th><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {log.data.items.map((d) => (
              <tr key={d.event_id} data-event={d.event_id} data-state={d.state}>
                <td><code>{d.event_id}</code></td>
                <td><span class={stateBadge[d.state]}>{d.state}</span>
                  {d.next_attempt_at ? <small class="muted"> next {when(d.next_attempt_at)}</small> : null}</td>
                <td>{d.attempts}</td>
                <td>{when(d.last_attempt_at)}</td>
                <td>{answer(d.last_status, d.last_latency_ms, d.last_error)}
                  {d.last_response ? <details><summary>Response</summary><pre class="response">{d.last_response}</pre></details> : null}</td>
                <td><button type="button" onClick={() => redeliver(d)} disabled={act.busy}>Redeliver</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {log.data && log.data.items.length === 0 ? <p class="empty">Nothing delivered yet.</p> : null}
      <Pager hasPrev={!!pages.cursor} next={log.data?.next_cursor ?? null} onFirst={pages.first} onNext={() => pages.next(log.data?.next_cursor ?? null)} />
      <button type="button" onClick={() => setRound(round + 1)}>Refresh</button>
    </div>
  );
}
