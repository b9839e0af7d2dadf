// h builds an element: h("button", { type: "button", onclick }, "Send").
// Attributes starting with "on" become listeners; others are set as
// attributes (false and undefined leave them out).
type Attrs = Record<string, string | number | boolean | undefined | ((e: Event) => void)>;
type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else if (v !== false && v !== undefined) el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) el.append(c);
  }
  return el;
}

// byId finds an element that the current screen is known to have.
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el as T;
}

// redraw replaces the children of el, keeping the keyboard focus: when an
// element inside had it, the new element with the same data-focus key gets
// it back (the same element, when the new children reuse it, keeps its
// text and caret too).
export function redraw(el: HTMLElement, ...children: Node[]) {
  const active = document.activeElement;
  const key = active instanceof HTMLElement && el.contains(active) ? active.dataset.focus : undefined;
  el.replaceChildren(...children);
  if (key) el.querySelector<HTMLElement>(`[data-focus="${CSS.escape(key)}"]`)?.focus();
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
