// The open room's subscription, and what it changes on the page: the
// timeline, the member list, the status in the top bar, the read marker.
import { dropSession } from "./auth";
import { showConnection, showSubscription } from "./connectionStatus";
import { loadMembers } from "./members";
import { openedRoom } from "./room";
import { Subscription, type SubscriptionState } from "./subscription";
import { clearMessages, receive, receiveChange, renderTimeline } from "./timeline";
import { api } from "./transport";
import { markSeen } from "./unread";

let feed: Subscription | undefined;

// followRoom subscribes to the room from sinceSeq, in place of any earlier
// subscription.
export function followRoom(roomId: string, sinceSeq: bigint) {
  feed?.stop();
  const sub = new Subscription(roomId, sinceSeq, () => api().messages, {
    changed,
    message: (m, before) => {
      receive(m, before);
      markSeen(roomId, sub.position);
    },
    messageChanged: (m) => {
      receiveChange(m);
      markSeen(roomId, sub.position);
    },
    membersChanged: () => void loadMembers(),
  });
  feed = sub;
}

// stopFeed stops the subscription; resubscribe resumes it where it stopped.
export function stopFeed() {
  feed?.stop();
}

// forgetFeed stops the subscription and forgets where it was: the room
// being opened starts from its own history.
export function forgetFeed() {
  feed?.stop();
  feed = undefined;
}

// resubscribe starts the open room's subscription afresh (over a new
// transport, or on coming back online) from its resume position.
export function resubscribe() {
  const room = openedRoom();
  if (room) followRoom(room.id, feed?.position ?? 0n);
}

function changed(s: SubscriptionState) {
  if (s.name === "backing-off" && s.startOver) {
    clearMessages();
    renderTimeline();
  }
  showSubscription(s);
  if (s.name === "stopped" && s.cause === "unauthenticated") dropSession();
}

// followNetwork reacts to the browser going offline and back: going offline
// may leave a dead stream that has not noticed yet; coming back, resubscribe
// at once instead of waiting for it to time out.
export function followNetwork() {
  window.addEventListener("offline", () => { if (openedRoom()) showConnection("offline", "the browser is offline"); });
  window.addEventListener("online", () => resubscribe());
}

