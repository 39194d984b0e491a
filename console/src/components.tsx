import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';

/** ProblemBox shows an error as the admin API said it: the problem's title and detail. */
export function ProblemBox({ error }: { error: unknown }) {
  if (!error) return null;
  const p = error instanceof ApiError ? error.problem : { title: 'Error', status: 0, detail: String(error) };
  return (
    <div class="problem" role="alert">
      <strong class="problem-title">{p.title}</strong>
      {p.status ? <span class="problem-status"> ({p.status})</span> : null}
      {p.detail ? <p class="problem-detail">{p.detail}</p> : null}
      {p.status === 404 && !p.detail ? <p class="problem-detail">It does not exist, or this admin key does not reach it.</p> : null}
    </div>
  );
}

/** fieldErrors puts a validation problem of the API beside the field it names. */
export function fieldErrors(e: unknown): Record<string, string> {
  if (e instanceof ApiError && e.problem.field) return { [e.problem.field]: e.problem.detail ?? e.problem.title };
  return {};
}

let ids = 0;
const useId = () => useRef(`f${++ids}`).current;

interface FieldProps {
  label: string;
  error?: string;
  hint?: string;
  children: (id: string, describedBy: string | undefined, invalid: boolean) => ComponentChildren;
}

/** Field is a labelled form control with its hint and its error, tied to it for screen readers. */
export function Field({ label, error, hint, children }: FieldProps) {
  const id = useId();
  const describedBy = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class={error ? 'field invalid' : 'field'}>
      <label for={id}>{label}</label>
      {children(id, describedBy, !!error)}
      {hint ? <small id={`${id}-hint`} class="hint">{hint}</small> : null}
      {error ? <small id={`${id}-error`} class="field-error">{error}</small> : null}
    </div>
  );
}

interface InputProps {
  label: string;
  value: string;
  onInput: (v: string) => void;
  error?: string;
  hint?: string;
  type?: 'text' | 'password' | 'datetime-local';
  name?: string;
  autocomplete?: string;
  placeholder?: string;
  required?: boolean;
  multiline?: boolean;
}

export function Input(p: InputProps) {
  return (
    <Field label={p.label} error={p.error} hint={p.hint}>
      {(id, describedBy, invalid) =>
        p.multiline ? (
          <textarea id={id} name={p.name} value={p.value} rows={3} aria-describedby={describedBy} aria-invalid={invalid}
            placeholder={p.placeholder} onInput={(e) => p.onInput((e.target as HTMLTextAreaElement).value)} />
        ) : (
          <input id={id} name={p.name} type={(p.type ?? 'text') as 'text'} value={p.value} aria-describedby={describedBy}
            aria-invalid={invalid} autocomplete={p.autocomplete ?? 'off'} placeholder={p.placeholder} required={p.required}
            spellcheck={false} onInput={(e) => p.onInput((e.target as HTMLInputElement).value)} />
        )
      }
    </Field>
  );
}

export function Checkbox({ label, checked, onChange, hint }: { label: string; checked: boolean; onChange: (v: boolean) => void; hint?: string }) {
  const id = useId();
  return (
    <div class="check">
      <input id={id} type="checkbox" checked={checked} onChange={(e) => onChange((e.target as HTMLInputElement).checked)} />
      <label for={id}>{label}</label>
      {hint ? <small class="hint">{hint}</small> : null}
    </div>
  );
}

export interface ConfirmOptions {
  title: string;
  /** What will stop working, in words. */
  body: ComponentChildren;
  confirm: string;
  /** When set, the admin must type this (a tenant's slug) to confirm. */
  typed?: string;
}

/**
 * useConfirm returns a modal dialog and ask, which opens it and resolves to whether the
 * admin confirmed. The native dialog traps focus and closes on Escape.
 */
export function useConfirm(): [ComponentChildren, (o: ConfirmOptions) => Promise<boolean>] {
  const [opts, setOpts] = useState<ConfirmOptions | null>(null);
  const [typed, setTyped] = useState('');
  const resolve = useRef<(ok: boolean) => void>(() => {});
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    if (opts && ref.current && !ref.current.open) ref.current.showModal();
  }, [opts]);
  const ask = useCallback((o: ConfirmOptions) => {
    setTyped('');
    setOpts(o);
    return new Promise<boolean>((ok) => { resolve.current = ok; });
  }, []);
  const close = (ok: boolean) => {
    ref.current?.close();
    setOpts(null);
    resolve.current(ok);
  };
  const blocked = !!opts?.typed && typed !== opts.typed;
  const dialog = opts ? (
    <dialog ref={ref} class="confirm" aria-labelledby="confirm-title" onCancel={(e) => { e.preventDefault(); close(false); }}>
      <form method="dialog" onSubmit={(e) => { e.preventDefault(); if (!blocked) close(true); }}>
        <h2 id="confirm-title">{opts.title}</h2>
        <div class="confirm-body">{opts.body}</div>
        {opts.typed ? (
          <Input label={`Type ${opts.typed} to confirm`} value={typed} onInput={setTyped} name="confirm-typed" />
        ) : null}
        <div class="actions">
          <button type="button" onClick={() => close(false)}>Cancel</button>
          <button type="submit" class="danger" disabled={blocked}>{opts.confirm}</button>
        </div>
      </form>
    </dialog>
  ) : null;
  return [dialog, ask];
}

/** CopyButton copies text to the clipboard, or selects it when the browser refuses. */
export function CopyButton({ text, target }: { text: string; target?: string }) {
  const [state, setState] = useState('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState('Copied');
    } catch {
      const el = target ? document.getElementById(target) : null;
      if (el) getSelection()?.selectAllChildren(el);
      setState('Selected: press Ctrl+C to copy');
    }
  };
  return (
    <span class="copy">
      <button type="button" onClick={copy}>Copy</button>
      <span role="status" class="copy-state">{state}</span>
    </span>
  );
}

/** ShownOnce shows a secret jeton shows this once, with a copy button and what to do with it. */
export function ShownOnce({ value, id, warning }: { value: string; id: string; warning: ComponentChildren }) {
  return (
    <>
      <p class="warning">{warning}</p>
      <p class="secret-line"><code id={id} data-testid={id}>{value}</code> <CopyButton text={value} target={id} /></p>
    </>
  );
}

/** useLoad runs load now and whenever deps change; reload runs it again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const run = useCallback(() => {
    const n = ++seq.current;
    setLoading(true);
    load().then(
      (d) => { if (n === seq.current) { setData(d); setError(null); setLoading(false); } },
      (e) => { if (n === seq.current) { setData(undefined); setError(e); setLoading(false); } },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(run, [run]);
  return { data, error, loading, reload: run, setData };
}

/** useAction runs a change, keeping its error to show and whether it is under way. */
export function useAction() {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const run = useCallback(async <T,>(f: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    try {
      return await f();
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { error, busy, run, setError };
}

/**
 * useSubmit makes a form's submit handler: it checks the form with validate, puts the
 * errors beside their fields, and sends only a valid form; done gets the answer. errors
 * holds the console's findings and the API's field error.
 */
export function useSubmit<T>(validate: () => Record<string, string>, send: () => Promise<T>, done: (r: T) => void) {
  const [checked, setChecked] = useState<Record<string, string>>({});
  const act = useAction();
  const submit = async (e: Event) => {
    e.preventDefault();
    const v = validate();
    setChecked(v);
    if (Object.keys(v).length) return;
    const r = await act.run(send);
    if (r !== undefined) done(r);
  };
  return { submit, act, errors: { ...checked, ...fieldErrors(act.error) } };
}

export const when = (t: string | null | undefined) => (t ? new Date(t).toLocaleString() : '—');

export function Pager({ hasPrev, next, onFirst, onNext }: { hasPrev: boolean; next: string | null; onFirst: () => void; onNext: () => void }) {
  if (!hasPrev && !next) return null;
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" onClick={onFirst} disabled={!hasPrev}>First page</button>
      <button type="button" onClick={onNext} disabled={!next}>Next page</button>
    </nav>
  );
}

/** usePages keeps the cursor of the page shown; a change of filter starts again at the first. */
export function usePages(filterKey: string) {
  const [cursor, setCursor] = useState<string | null>(null);
  useEffect(() => setCursor(null), [filterKey]);
  return { cursor, first: () => setCursor(null), next: (c: string | null) => c && setCursor(c) };
}
