// The list of rooms beside the chat, each with its unread count (unread.ts),
// and the form that creates one.
import { Code, ConnectError } from "@connectrpc/connect";
import { Visibility, type Room } from "./gen/parley/v1/room_pb";
import { h, redraw } from "./dom";
import { errorText } from "./error";
import { render } from "./page";
import { openedRoom, openRoom } from "./room";
import { api } from "./transport";
import { unreadCount } from "./unread";

let rooms: Room[] = [];

export function knownRooms(): readonly Room[] {
  return rooms;
}

// loadRooms reads every room the user may see, without redrawing.
export async function loadRooms() {
  const list: Room[] = [];
  let pageToken = "";
  do {
    const res = await api().rooms.listRooms({ pageSize: 100, pageToken });
    list.push(...res.rooms);
    pageToken = res.nextPageToken;
  } while (pageToken);
  rooms = list;
}

export function roomList(): HTMLElement {
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { class: "create-room", "aria-label": "Create a room" },
    h("label", { for: "room-name" }, "New room"),
    h("div", { class: "row" },
      h("input", { id: "room-name", name: "name", required: true, maxlength: 64, pattern: "[A-Za-z0-9._\\-]+", placeholder: "e.g. general", autocapitalize: "none" }),
      h("button", { type: "submit" }, "Create")),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "private" }), "Private"),
    error,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    try {
      const res = await api().rooms.createRoom({
        name: String(data.get("name")),
        visibility: data.get("private") ? Visibility.PRIVATE : Visibility.PUBLIC,
      });
      await loadRooms();
      if (res.room) await openRoom(res.room);
    } catch (err) {
      error.textContent = ConnectError.from(err).code === Code.AlreadyExists ? "A room with that name exists." : errorText(err);
    }
  });
  return h("nav", { class: "rooms", "aria-label": "Rooms" },
    h("div", { class: "rooms-head" },
      h("h2", {}, "Rooms"),
      h("button", { type: "button", class: "link", onclick: async () => { await loadRooms(); render(); } }, "Refresh")),
    h("ul", { id: "room-list" }, roomItems()),
    form,
  );
}

// renderRoomList redraws the rooms in the list where it is shown, if what
// it shows changed (a redraw between a press and its release would lose
// the click).
export function renderRoomList() {
  const list = document.getElementById("room-list");
  if (!list) return;
  const shows = JSON.stringify([openedRoom()?.id, rooms.map((r) => [r.id, r.name, r.visibility, String(unreadCount(r))])]);
  if (list.dataset.shows === shows) return;
  redraw(list, ...roomItems());
  list.dataset.shows = shows;
}

function roomItems(): HTMLElement[] {
  if (rooms.length === 0) return [h("li", { class: "hint" }, "No rooms yet.")];
  const open = openedRoom();
  return rooms.map((r) => {
    const unread = unreadCount(r);
    return h("li", {},
      h("button", {
        type: "button", class: `room${unread > 0n ? " has-unread" : ""}`, "data-room": r.name, "data-focus": `room:${r.id}`,
        "data-unread": String(unread), "aria-current": open?.id === r.id ? "page" : undefined,
        onclick: () => openRoom(r),
      },
      h("span", { "aria-hidden": "true", class: "sigil" }, "#"),
      h("span", { class: "name" }, r.name),
      r.visibility === Visibility.PRIVATE && h("span", { class: "badge" }, "private"),
      unread > 0n && h("span", { class: "unread" }, unread > 99n ? "99+" : String(unread), h("span", { class: "visually-hidden" }, " unread"))));
  });
}
