// What an RPC error means to the page: the words to show for it, and
// whether trying again may help.
import { Code, ConnectError } from "@connectrpc/connect";

export function errorText(e: unknown): string {
  const ce = ConnectError.from(e);
  return ce.rawMessage || Code[ce.code];
}

// transient tells whether e is worth retrying (with the same
// client_message_id, for a message).
export function transient(e: unknown): boolean {
  const c = ConnectError.from(e).code;
  return c === Code.Unavailable || c === Code.Unknown || c === Code.DeadlineExceeded || c === Code.Aborted || c === Code.Internal;
}
