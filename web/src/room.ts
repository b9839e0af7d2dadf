// The open room: opening one (join, newest history, subscribe) and closing
// it. Its address is #/rooms/ID, so a reload opens it again.
import { Code, ConnectError } from "@connectrpc/connect";
import type { Room } from "./gen/parley/v1/room_pb";
import { connection, explainConnection, showConnection } from "./connectionStatus";
import { byId } from "./dom";
import { errorText } from "./error";
import { foldMembers, loadMembers } from "./members";
import { render } from "./page";
import { followRoom, forgetFeed, stopFeed } from "./roomFeed";
import { clearChange } from "./edit";
import { clearPending } from "./send";
import { clearMessages, historyPage, showHistory } from "./timeline";
import { api } from "./transport";
import { markSeen } from "./unread";
import { clearUploads } from "./upload";

let current: Room | undefined;

export function openedRoom(): Room | undefined {
  return current;
}

// openRoom joins the room (a no-op for members), loads the newest history,
// subscribes from there and marks it read.
export async function openRoom(room: Room) {
  stopFeed();
  try {
    const res = await api().rooms.joinRoom({ roomId: room.id });
    if (res.room) room = res.room;
  } catch (err) {
    // Members of a private room need no join; anything else is real.
    if (ConnectError.from(err).code !== Code.PermissionDenied) {
      alert(`Could not open ${room.name}: ${errorText(err)}`);
      return;
    }
  }
  current = room;
  forgetFeed();
  clearMessages();
  clearPending();
  clearChange();
  clearUploads();
  foldMembers();
  history.replaceState(null, "", `#/rooms/${room.id}`);
  let headSeq = 0n;
  try {
    const res = await api().messages.listMessages({ roomId: room.id, limit: historyPage });
    showHistory(res.messages);
    headSeq = res.headSeq;
  } catch (err) {
    explainConnection(errorText(err));
  }
  render();
  void loadMembers();
  followRoom(room.id, headSeq);
  markSeen(room.id, headSeq);
  byId("composer-text").focus();
}

// closeRoom goes back to the room list.
export function closeRoom() {
  forgetRoom();
  history.replaceState(null, "", location.pathname);
  render();
  document.querySelector<HTMLButtonElement>("#room-list button")?.focus();
}

// forgetRoom stops showing the room, without redrawing the page.
export function forgetRoom() {
  stopFeed();
  current = undefined;
  showConnection("idle", connection.detail);
}
