// The top bar: the name, the connection status, the transport switches and
// who is signed in.
import { signOut } from "./auth";
import { connectionStatus } from "./connectionStatus";
import { h } from "./dom";
import { render } from "./page";
import { resubscribe } from "./roomFeed";
import type { Codec, Protocol } from "./rpc";
import { session } from "./session";
import { transport, useTransport } from "./transport";

export function header(): HTMLElement {
  return h("header", { class: "topbar" },
    h("h1", {}, "Parley"),
    connectionStatus(),
    h("div", { class: "switches" },
      radioGroup("Protocol", "protocol", [["connect", "Connect"], ["grpcweb", "gRPC-Web"]], transport.protocol, (v) => switchTransport(v as Protocol, transport.codec)),
      radioGroup("Encoding", "codec", [["json", "JSON"], ["binary", "Binary"]], transport.codec, (v) => switchTransport(transport.protocol, v as Codec)),
    ),
    session.user && h("div", { class: "me" },
      h("span", { class: "who" }, h("span", { class: "who-label" }, "Signed in as "), h("strong", {}, session.user.username)),
      h("button", { type: "button", class: "link", onclick: signOut }, "Sign out")),
  );
}

function radioGroup(legend: string, name: string, options: [string, string][], value: string, onChange: (v: string) => void): HTMLElement {
  return h("fieldset", { class: "segmented" },
    h("legend", {}, legend),
    options.map(([v, label]) =>
      h("label", {},
        h("input", { type: "radio", name, value: v, checked: v === value, onchange: () => onChange(v) }),
        h("span", {}, label))),
  );
}

function switchTransport(protocol: Protocol, codec: Codec) {
  useTransport(protocol, codec);
  // Resume the open room over the new transport from where it is.
  resubscribe();
  const focused = document.activeElement?.getAttribute("value");
  render();
  if (focused) document.querySelector<HTMLInputElement>(`.segmented input[value="${focused}"]`)?.focus();
}
