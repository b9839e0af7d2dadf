// Subscription keeps the Subscribe stream of one room open across breaks.
// It is a state machine; every state carries sinceSeq, the resume position:
// the last seq received (or, to begin with, the head of the history the page
// loaded). After any break it subscribes again with since_seq = sinceSeq,
// so nothing is missed and nothing arrives twice.
//
//	connecting   a Subscribe call is open and not answered yet
//	live         the server has answered; events arrive
//	backing-off  the last call failed or ended; waiting before the next one
//	stopped      for good: stop() was called, or trying again cannot help
//
//	connecting  --answered-->  live
//	live        --received-->  live         each event; failures go back to 0,
//	                                        an event of the room log (a
//	                                        message, an edit, a deletion)
//	                                        moves sinceSeq on
//	connecting,
//	live        --ended, failed-->  backing-off   failures + 1; after
//	                                        out_of_range (the server has fewer
//	                                        messages than we saw) from seq 0
//	            --failed unauthenticated, permission_denied, not_found--> stopped
//	backing-off --waited-->    connecting   after backoff(failures - 1), sooner
//	                                        when the browser comes back online
//	any         --stop-->      stopped
//
// next decides every transition. The Subscription runs what each state
// needs (the call, the timer) and feeds what happens back into next.
import { Code, ConnectError } from "@connectrpc/connect";
import type { Message, SubscribeResponse } from "./gen/parley/v1/message_pb";
import { errorText } from "./error";
import { backoff, sleep } from "./retry";
import type { Clients } from "./rpc";

// failures counts the calls in a row that have failed since the server last
// sent an event: 0 only before the first call is answered, or while events
// arrive.
export type SubscriptionState =
  | { name: "connecting"; sinceSeq: bigint; failures: number }
  | { name: "live"; sinceSeq: bigint; failures: number }
  | { name: "backing-off"; sinceSeq: bigint; failures: number; reason: string; startOver: boolean }
  | { name: "stopped"; sinceSeq: bigint; cause: "stopped" | "unauthenticated" | "denied"; reason: string };

// SubscriptionInput is what can happen to a subscription.
export type SubscriptionInput =
  | { kind: "answered" } // the response headers arrived
  | { kind: "received"; response: SubscribeResponse }
  | { kind: "ended" } // the stream ended without an error
  | { kind: "failed"; error: unknown }
  | { kind: "waited" } // the backoff is over
  | { kind: "stop" };

// next returns the state that input leads to from s, or s itself when the
// input changes nothing (stopped is final).
export function next(s: SubscriptionState, input: SubscriptionInput): SubscriptionState {
  if (s.name === "stopped") return s;
  if (input.kind === "stop") return { name: "stopped", sinceSeq: s.sinceSeq, cause: "stopped", reason: "" };
  if (s.name === "backing-off") {
    return input.kind === "waited" ? { name: "connecting", sinceSeq: s.sinceSeq, failures: s.failures } : s;
  }
  switch (input.kind) {
    case "answered":
      return s.name === "connecting" ? { name: "live", sinceSeq: s.sinceSeq, failures: s.failures } : s;
    case "received": {
      const seq = logSeq(input.response);
      return { name: "live", sinceSeq: seq > s.sinceSeq ? seq : s.sinceSeq, failures: 0 };
    }
    case "ended":
      return { name: "backing-off", sinceSeq: s.sinceSeq, failures: s.failures + 1, reason: "stream ended", startOver: false };
    case "failed": {
      const reason = errorText(input.error);
      switch (ConnectError.from(input.error).code) {
        case Code.Unauthenticated:
          return { name: "stopped", sinceSeq: s.sinceSeq, cause: "unauthenticated", reason };
        case Code.PermissionDenied:
        case Code.NotFound:
          return { name: "stopped", sinceSeq: s.sinceSeq, cause: "denied", reason };
        case Code.OutOfRange:
          // The server has fewer messages than we saw (a reset database):
          // start over rather than show a gap.
          return { name: "backing-off", sinceSeq: 0n, failures: s.failures + 1, reason, startOver: true };
        default:
          return { name: "backing-off", sinceSeq: s.sinceSeq, failures: s.failures + 1, reason, startOver: false };
      }
    }
    case "waited":
      return s;
  }
}

// logSeq is the room-log seq of a response: a message's own, an edit's or
// a deletion's; 0 for what is not logged (members, heartbeats).
function logSeq(r: SubscribeResponse): bigint {
  switch (r.event.case) {
    case "message":
    case "messageEdited":
    case "messageDeleted":
      return r.event.value.seq;
    default:
      return 0n;
  }
}

// SubscriptionHooks is told what a Subscription does and receives.
export interface SubscriptionHooks {
  // changed is told each state entered, in order, starting with the first.
  changed(state: SubscriptionState): void;
  // message is told each message, with the resume position before it.
  message(m: Message, sinceSeq: bigint): void;
  // messageChanged is told each edit or deletion: the message in its new
  // form.
  messageChanged(m: Message): void;
  // membersChanged is told that someone joined or left the room.
  membersChanged(): void;
}

// The server sends a heartbeat on idle streams (every 15 s by default); a
// stream silent for much longer is dead without knowing it (a sleeping
// laptop, a dropped NAT entry), so it is cut, counts as failed, and resumes.
const silenceLimitMs = 45_000;

// Subscription runs the state machine for one room, from the moment it is
// made until stop().
export class Subscription {
  readonly roomId: string;
  readonly #messages: () => Clients["messages"];
  readonly #hooks: SubscriptionHooks;
  readonly #stopping = new AbortController();
  #state: SubscriptionState;

  // The subscription starts at once, from sinceSeq; messages() gives the
  // client to call for each attempt (the transport may change in between).
  constructor(roomId: string, sinceSeq: bigint, messages: () => Clients["messages"], hooks: SubscriptionHooks) {
    this.roomId = roomId;
    this.#messages = messages;
    this.#hooks = hooks;
    this.#state = { name: "connecting", sinceSeq, failures: 0 };
    void this.#run();
  }

  get state(): SubscriptionState {
    return this.#state;
  }

  // position is the resume position: where a new subscription to the same
  // room would continue.
  get position(): bigint {
    return this.#state.sinceSeq;
  }

  stop() {
    this.#apply({ kind: "stop" });
    this.#stopping.abort();
  }

  #apply(input: SubscriptionInput) {
    const to = next(this.#state, input);
    if (to === this.#state) return;
    this.#state = to;
    this.#hooks.changed(to);
  }

  async #run() {
    this.#hooks.changed(this.#state);
    for (;;) {
      const s = this.#state;
      switch (s.name) {
        case "connecting":
          await this.#call(s.sinceSeq);
          break;
        case "backing-off":
          await sleep(backoff(s.failures - 1), this.#stopping.signal);
          this.#apply({ kind: "waited" });
          break;
        case "live": // #call returns only once the call is over
        case "stopped":
          return;
      }
    }
  }

  // call makes one Subscribe call and reports what becomes of it.
  async #call(sinceSeq: bigint) {
    const call = new AbortController();
    const cut = () => call.abort();
    this.#stopping.signal.addEventListener("abort", cut, { once: true });
    let watchdog = setTimeout(cut, silenceLimitMs);
    try {
      const stream = this.#messages().subscribe(
        { roomId: this.roomId, sinceSeq },
        { signal: call.signal, onHeader: () => this.#apply({ kind: "answered" }) },
      );
      for await (const response of stream) {
        clearTimeout(watchdog);
        watchdog = setTimeout(cut, silenceLimitMs);
        const before = this.#state.sinceSeq;
        this.#apply({ kind: "received", response });
        if (this.#state.name === "stopped") return;
        const ev = response.event;
        switch (ev.case) {
          case "message":
            this.#hooks.message(ev.value, before);
            break;
          case "messageEdited":
          case "messageDeleted":
            if (ev.value.message) this.#hooks.messageChanged(ev.value.message);
            break;
          case "memberJoined":
          case "memberLeft":
            this.#hooks.membersChanged();
            break;
        }
      }
      this.#apply({ kind: "ended" });
    } catch (error) {
      this.#apply({ kind: "failed", error });
    } finally {
      clearTimeout(watchdog);
      this.#stopping.signal.removeEventListener("abort", cut);
    }
  }
}
