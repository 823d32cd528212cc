import type { ComponentChildren } from "preact";

/** An error or notice the screen reader announces. */
export function Alert(props: { error?: string | null; children?: ComponentChildren }) {
  if (!props.error && !props.children) return null;
  return (
    <div role="alert" class="alert">
      {props.error ?? props.children}
    </div>
  );
}

export function Notice(props: { children: ComponentChildren }) {
  return (
    <div role="status" class="notice">
      {props.children}
    </div>
  );
}

export function fmtDate(iso: string | number | null | undefined): string {
  if (iso === null || iso === undefined || iso === "") return "—";
  const d = new Date(iso);
  return isNaN(d.getTime()) ? String(iso) : d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

export function fmtDay(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d.getTime()) ? iso : d.toISOString().slice(0, 10);
}
