// Unread counts in the room list, and the read marker of the open room.
//
// The counts are the server's: ListRooms returns each room's unread_count
// (messages of others after the user's read marker), read again every 5 s
// while the page is visible and at once when it becomes visible, so a room
// that is not open counts up and a reload shows the same. The page keeps
// only one stream open, for the open room (browsers allow 6 connections to
// an HTTP/1.1 origin, and downloads need some), so other rooms are not
// followed live.
//
// The open room shows no count. What it has shown is marked read
// (MarkRead with the latest seq seen: the history's head, then each event
// of the stream) while the page is visible; seen while hidden, it is marked
// once the page is visible again.
import type { Room } from "./gen/parley/v1/room_pb";
import { openedRoom } from "./room";
import { loadRooms, renderRoomList } from "./roomList";
import { session } from "./session";
import { api } from "./transport";

// refreshMs is how often the counts are read while the page is visible.
const refreshMs = 5000;

// Per room id, for the user signed in (owner): the latest seq shown, and
// the latest seq MarkRead was sent for.
const seen = new Map<string, bigint>();
const marked = new Map<string, bigint>();
let owner = "";
let marking = false;

// forOwner forgets the markers of whoever was signed in before.
function forOwner() {
  const id = session.user?.id ?? "";
  if (id === owner) return;
  owner = id;
  seen.clear();
  marked.clear();
}

// unreadCount is the count to show beside room: none for the open room, nor
// for one marked read after the count was read (the next read has it right).
export function unreadCount(room: Room): bigint {
  forOwner();
  if (openedRoom()?.id === room.id) return 0n;
  if ((marked.get(room.id) ?? 0n) > room.readSeq) return 0n;
  return room.unreadCount;
}

// markSeen tells that the open room has shown everything up to seq.
export function markSeen(roomId: string, seq: bigint) {
  forOwner();
  if (seq <= (seen.get(roomId) ?? 0n)) return;
  seen.set(roomId, seq);
  void markRead();
}

// markRead sends MarkRead for what was seen and not marked yet, one call at
// a time, while the page is visible. A failed call is sent again with the
// next seq seen or when the page becomes visible.
async function markRead() {
  if (marking) return;
  marking = true;
  try {
    for (;;) {
      forOwner();
      if (document.visibilityState !== "visible") return;
      const todo = [...seen].find(([id, seq]) => seq > (marked.get(id) ?? 0n));
      if (!todo) return;
      const [roomId, seq] = todo;
      const before = marked.get(roomId);
      marked.set(roomId, seq);
      try {
        await api().messages.markRead({ roomId, seq });
      } catch {
        if (before === undefined) marked.delete(roomId);
        else marked.set(roomId, before);
        return;
      }
    }
  } finally {
    marking = false;
  }
}

// refresh reads the counts again and redraws the room list.
async function refresh() {
  if (!session.user || document.visibilityState !== "visible") return;
  try {
    await loadRooms();
  } catch {
    return; // the next refresh tries again
  }
  renderRoomList();
}

// followUnread keeps the counts fresh and the open room's marker moving for
// as long as the page lives.
export function followUnread() {
  setInterval(() => void refresh(), refreshMs);
  document.addEventListener("visibilitychange", () => {
    void markRead();
    void refresh();
  });
}
