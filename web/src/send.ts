// Sending messages: each is pending (shown as "sending…") until the
// SendMessage answer or the stream confirms it, and retried after transient
// failures with the same client_message_id, so the server stores it once
// however often it arrives. Over the send rate limit it is sent again once
// the limit lifts, if that is within maxRateLimitWaitMs; otherwise it fails
// saying when to try again.
import type { Message } from "./gen/parley/v1/message_pb";
import { errorText, retryDelayMs, transient } from "./error";
import { randomId } from "./randomId";
import { backoff, sleep } from "./retry";
import { openedRoom } from "./room";
import { session } from "./session";
import { renderTimeline, showMessage } from "./timeline";
import { api } from "./transport";

// Pending is a message being sent.
export interface Pending {
  clientMessageId: string;
  text: string;
  attachmentIds: string[];
  state: "sending" | "failed";
  error?: string;
}

let pending: Pending[] = [];

// maxRateLimitWaitMs is the longest rate-limit delay a send waits out.
const maxRateLimitWaitMs = 10_000;

export function pendingMessages(): readonly Pending[] {
  return pending;
}

// clearPending forgets every pending message (another room is opened).
export function clearPending() {
  pending = [];
}

// queueMessage adds a pending message; send it with send.
export function queueMessage(text: string, attachmentIds: string[]): Pending {
  const p: Pending = { clientMessageId: randomId(), text, attachmentIds, state: "sending" };
  pending.push(p);
  return p;
}

// settlePending drops the pending message that m, delivered by the
// stream, confirms.
export function settlePending(m: Message) {
  pending = pending.filter((p) => p.clientMessageId !== m.clientMessageId || m.sender?.id !== session.user?.id);
}

// send posts a pending message to the open room.
export async function send(p: Pending) {
  const room = openedRoom();
  if (!room) return;
  p.state = "sending";
  renderTimeline();
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await api().messages.sendMessage(
        { roomId: room.id, text: p.text, clientMessageId: p.clientMessageId, attachmentIds: p.attachmentIds },
        { timeoutMs: 15000 },
      );
      if (openedRoom()?.id !== room.id) return;
      // Shown at once; the stream delivers the same seq later, and the
      // resume position only moves with the stream, so no gap can hide
      // behind it.
      showMessage(res.message!);
      pending = pending.filter((x) => x !== p);
      renderTimeline();
      return;
    } catch (err) {
      if (transient(err) && attempt < 5) {
        await sleep(backoff(attempt + 2));
        continue;
      }
      const wait = retryDelayMs(err);
      if (wait !== undefined && wait <= maxRateLimitWaitMs && attempt < 5) {
        await sleep(wait);
        continue;
      }
      p.state = "failed";
      p.error = errorText(err);
      renderTimeline();
      return;
    }
  }
}
