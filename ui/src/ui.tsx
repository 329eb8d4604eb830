// Building blocks of the console. Everything is rendered through Preact's JSX, which sets text
// content and attributes, never HTML: a value with markup in it shows as the characters it holds.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError } from "./api";

export function Page(props: { title: string; subtitle?: string; actions?: ComponentChildren; children: ComponentChildren }) {
  return (
    <section class="page">
      <header class="page-head">
        <div>
          <h1>{props.title}</h1>
          {props.subtitle && <p class="subtitle">{props.subtitle}</p>}
        </div>
        <div class="page-actions">{props.actions}</div>
      </header>
      {props.children}
    </section>
  );
}

export function Card(props: { title?: string; actions?: ComponentChildren; class?: string; children: ComponentChildren }) {
  return (
    <div class={`card ${props.class ?? ""}`}>
      {(props.title || props.actions) && (
        <div class="card-head">
          <h2>{props.title}</h2>
          <div class="card-actions">{props.actions}</div>
        </div>
      )}
      {props.children}
    </div>
  );
}

type Tone = "neutral" | "good" | "warn" | "bad" | "info" | "muted";

export function Badge(props: { tone?: Tone; title?: string; children: ComponentChildren }) {
  return (
    <span class={`badge badge-${props.tone ?? "neutral"}`} title={props.title}>
      {props.children}
    </span>
  );
}

export function Button(props: {
  kind?: "primary" | "secondary" | "danger" | "ghost";
  small?: boolean;
  type?: "button" | "submit";
  disabled?: boolean;
  onClick?: () => void;
  title?: string;
  testid?: string;
  children: ComponentChildren;
}) {
  return (
    <button
      type={props.type ?? "button"}
      class={`btn btn-${props.kind ?? "secondary"}${props.small ? " btn-small" : ""}`}
      disabled={props.disabled}
      onClick={props.onClick}
      title={props.title}
      data-testid={props.testid}
    >
      {props.children}
    </button>
  );
}

export interface Column<T> {
  label: string;
  /** Hidden while the live log's detail panel is open. */
  narrowHidden?: boolean;
  render: (row: T) => ComponentChildren;
  align?: "left" | "right";
  width?: string;
}

export function Table<T>(props: {
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string;
  empty: ComponentChildren;
  onRowClick?: (row: T) => void;
  selected?: string | null;
  testid?: string;
}) {
  if (!props.rows.length) return <div class="empty">{props.empty}</div>;
  return (
    <div class="table-wrap">
      <table class="table" data-testid={props.testid}>
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th class={`${c.align === "right" ? "num" : ""}${c.narrowHidden ? " hide-narrow" : ""}`} style={c.width ? { width: c.width } : undefined}>
                {c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row) => {
            const key = props.rowKey(row);
            return (
              <tr
                key={key}
                class={`${props.onRowClick ? "clickable" : ""}${props.selected === key ? " selected" : ""}`}
                onClick={props.onRowClick ? () => props.onRowClick?.(row) : undefined}
              >
                {props.columns.map((c) => (
                  <td class={`${c.align === "right" ? "num" : ""}${c.narrowHidden ? " hide-narrow" : ""}`}>{c.render(row)}</td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function Modal(props: { title: string; onClose: () => void; wide?: boolean; children: ComponentChildren; footer?: ComponentChildren }) {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") props.onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [props.onClose]);
  return (
    <div class="overlay" onClick={(event) => event.target === event.currentTarget && props.onClose()}>
      <div class={`modal${props.wide ? " modal-wide" : ""}`} role="dialog" aria-modal="true" aria-label={props.title}>
        <div class="modal-head">
          <h2>{props.title}</h2>
          <button type="button" class="close" aria-label="Close" onClick={props.onClose}>
            ×
          </button>
        </div>
        <div class="modal-body">{props.children}</div>
        {props.footer && <div class="modal-foot">{props.footer}</div>}
      </div>
    </div>
  );
}

/** A route this gateway does not serve: a clear state instead of an error. */
export function Unavailable(props: { what: string; route: string; children?: ComponentChildren }) {
  return (
    <div class="notice notice-unavailable" data-testid="unavailable">
      <div class="notice-icon" aria-hidden="true">
        ⊘
      </div>
      <div>
        <h3>{props.what} not available on this gateway</h3>
        <p>
          This gateway does not serve <code>{props.route}</code>. {props.children}
        </p>
      </div>
    </div>
  );
}

export function ErrorNotice(props: { error: unknown; onRetry?: () => void }) {
  const message = props.error instanceof Error ? props.error.message : String(props.error);
  return (
    <div class="notice notice-error" role="alert">
      <div class="notice-icon" aria-hidden="true">
        !
      </div>
      <div>
        <h3>Something went wrong</h3>
        <p>{message}</p>
        {props.onRetry && (
          <Button small onClick={props.onRetry}>
            Try again
          </Button>
        )}
      </div>
    </div>
  );
}

export function Spinner() {
  return <div class="spinner" aria-label="Loading" />;
}

/** Spend against a budget, as a bar. */
export function Budget(props: { spend: unknown; max: unknown; money: (v: unknown) => string }) {
  const spend = typeof props.spend === "number" ? props.spend : 0;
  const max = typeof props.max === "number" ? props.max : null;
  const share = max && max > 0 ? Math.min(spend / max, 1) : 0;
  const tone = share >= 1 ? "bad" : share >= 0.8 ? "warn" : "good";
  return (
    <div class="budget">
      <div class="budget-text">
        <span>{props.money(spend)}</span>
        <span class="muted">{max === null ? "no budget" : `of ${props.money(max)}`}</span>
      </div>
      {max !== null && (
        <div class="budget-bar">
          <div class={`budget-fill tone-${tone}`} style={{ width: `${Math.max(share * 100, 1.5)}%` }} />
        </div>
      )}
    </div>
  );
}

export function Chips(props: { items: unknown; empty: string }) {
  const items = Array.isArray(props.items) ? props.items.filter((i): i is string => typeof i === "string") : [];
  if (!items.length) return <span class="muted">{props.empty}</span>;
  const shown = items.slice(0, 3);
  return (
    <span class="chips">
      {shown.map((item) => (
        <span class="chip">{item}</span>
      ))}
      {items.length > shown.length && <span class="chip chip-more">+{items.length - shown.length}</span>}
    </span>
  );
}

// -- notifications ---------------------------------------------------------------

interface Toast {
  id: number;
  tone: "good" | "bad";
  text: string;
}
let toastId = 0;
const toastListeners = new Set<(toasts: Toast[]) => void>();
let toasts: Toast[] = [];

export function notify(text: string, tone: "good" | "bad" = "good"): void {
  const toast = { id: ++toastId, tone, text };
  toasts = [...toasts, toast];
  toastListeners.forEach((l) => l(toasts));
  setTimeout(() => {
    toasts = toasts.filter((t) => t.id !== toast.id);
    toastListeners.forEach((l) => l(toasts));
  }, 4000);
}

export function failed(error: unknown): void {
  notify(error instanceof ApiError || error instanceof Error ? error.message : String(error), "bad");
}

export function Toasts() {
  const [shown, setShown] = useState<Toast[]>(toasts);
  useEffect(() => {
    toastListeners.add(setShown);
    return () => void toastListeners.delete(setShown);
  }, []);
  return (
    <div class="toasts" aria-live="polite">
      {shown.map((t) => (
        <div class={`toast toast-${t.tone}`} key={t.id}>
          {t.text}
        </div>
      ))}
    </div>
  );
}

export function Confirm(props: {
  title: string;
  body: ComponentChildren;
  action: string;
  danger?: boolean;
  onConfirm: () => Promise<void>;
  onClose: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const go = async () => {
    setBusy(true);
    try {
      await props.onConfirm();
      props.onClose();
    } catch (error) {
      failed(error);
      setBusy(false);
    }
  };
  return (
    <Modal
      title={props.title}
      onClose={props.onClose}
      footer={
        <>
          <Button onClick={props.onClose}>Cancel</Button>
          <Button kind={props.danger ? "danger" : "primary"} disabled={busy} onClick={go} testid="confirm">
            {props.action}
          </Button>
        </>
      }
    >
      <p>{props.body}</p>
    </Modal>
  );
}

export function Toolbar(props: { children: ComponentChildren }) {
  return <div class="toolbar">{props.children}</div>;
}

export function SearchBox(props: { value: string; onInput: (value: string) => void; placeholder: string }) {
  return (
    <input
      class="search"
      type="search"
      value={props.value}
      placeholder={props.placeholder}
      onInput={(event: Event) => props.onInput((event.currentTarget as HTMLInputElement).value)}
    />
  );
}
