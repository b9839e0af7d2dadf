// The open room's member panel: who is in the room, folded away on phones
// until asked for (Members, Escape folds it again).
import type { Member } from "./gen/parley/v1/room_pb";
import { byId, h } from "./dom";
import { openedRoom } from "./room";
import { session } from "./session";
import { api } from "./transport";

let members: Member[] = [];
let shown = false;

export function membersShown(): boolean {
  return shown;
}

// foldMembers folds the panel, without redrawing it.
export function foldMembers() {
  shown = false;
}

// toggleMembers opens or folds the panel (the Members button).
export function toggleMembers() {
  shown = !shown;
  byId("members-toggle").setAttribute("aria-expanded", String(shown));
  renderMembers();
}

// loadMembers reads the open room's members and shows them, unless another
// room was opened meanwhile.
export async function loadMembers() {
  const room = openedRoom();
  if (!room) return;
  const list: Member[] = [];
  let pageToken = "";
  try {
    do {
      const res = await api().rooms.listMembers({ roomId: room.id, pageSize: 100, pageToken });
      list.push(...res.members);
      pageToken = res.nextPageToken;
    } while (pageToken);
  } catch {
    return;
  }
  if (openedRoom()?.id !== room.id) return;
  members = list;
  renderMembers();
}

export function renderMembers() {
  const aside = document.getElementById("members");
  if (!aside) return;
  aside.classList.toggle("open", shown);
  aside.replaceChildren(
    h("h3", {}, `Members (${members.length})`),
    h("ul", {}, members.map((m) => h("li", { "data-user": m.user?.username }, m.user?.username ?? "?", m.user?.id === session.user?.id ? " (you)" : ""))),
  );
}

// foldMembersOnEscape makes Escape fold the panel (on phones it covers the
// timeline).
export function foldMembersOnEscape() {
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || !shown) return;
    shown = false;
    const toggle = document.getElementById("members-toggle");
    toggle?.setAttribute("aria-expanded", "false");
    renderMembers();
    if (toggle && getComputedStyle(toggle).display !== "none") toggle.focus();
  });
}
