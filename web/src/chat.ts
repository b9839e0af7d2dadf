// The chat screen, once signed in: the room list beside the open room.
import { h } from "./dom";
import { render } from "./page";
import { openedRoom, openRoom } from "./room";
import { knownRooms, loadRooms, roomList } from "./roomList";
import { roomView } from "./roomView";

// enterChat loads the rooms and opens the one the address names, if any.
export async function enterChat() {
  await loadRooms();
  const wanted = location.hash.match(/^#\/rooms\/(.+)$/)?.[1];
  const room = knownRooms().find((r) => r.id === wanted);
  if (room) await openRoom(room);
  else render();
}

export function chatScreen(): HTMLElement {
  const room = openedRoom();
  return h("div", { class: `layout ${room ? "has-room" : "no-room"}` },
    roomList(),
    room ? roomView(room) : h("main", { class: "empty", id: "main" }, h("p", {}, "Pick a room, or create one.")),
  );
}
