// The connection status in the top bar ("Live", "Reconnecting…"), with why
// as its tooltip: how the open room's subscription is doing.
import { h } from "./dom";
import type { SubscriptionState } from "./subscription";

export type ConnState = "idle" | "connecting" | "live" | "reconnecting" | "offline";

export const connection = {
  state: "idle" as ConnState,
  detail: "",
};

const labels: Record<ConnState, string> = {
  idle: "Not connected", connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", offline: "Offline",
};

// connectionStatus builds the status element, #conn.
export function connectionStatus(): HTMLElement {
  return h("p", { id: "conn", class: `conn conn-${connection.state}${connection.state === "idle" ? " visually-hidden" : ""}`, role: "status", "data-state": connection.state, title: connection.detail },
    h("span", { class: "dot", "aria-hidden": "true" }), labels[connection.state]);
}

// showConnection sets the status and redraws it where it is shown.
export function showConnection(state: ConnState, detail = "") {
  if (connection.state === state && connection.detail === detail) return;
  connection.state = state;
  connection.detail = detail;
  document.getElementById("conn")?.replaceWith(connectionStatus());
}

// explainConnection keeps why something failed, shown from the status's
// next change on.
export function explainConnection(detail: string) {
  connection.detail = detail;
}

// showSubscription shows the state of the open room's subscription. The
// first call of a subscription is "connecting"; later ones are
// "reconnecting", or "offline" while the browser says it is.
export function showSubscription(s: SubscriptionState) {
  const away: ConnState = navigator.onLine ? "reconnecting" : "offline";
  switch (s.name) {
    case "connecting":
      showConnection(s.failures === 0 ? "connecting" : away, connection.detail);
      break;
    case "live":
      showConnection("live");
      break;
    case "backing-off":
      showConnection(away, s.reason);
      break;
    case "stopped":
      // Whoever stopped it shows what comes next.
      if (s.cause !== "stopped") showConnection("idle", s.reason);
      break;
  }
}
