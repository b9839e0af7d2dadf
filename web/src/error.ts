// What an RPC error means to the page: the words to show for it, whether
// trying again may help, and when a rate limit or quota lifts.
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";

// errorText is the server's message; for a rate limit or quota, the
// message's own "retry in …" is replaced by a rounded "try again in N s".
export function errorText(e: unknown): string {
  const ce = ConnectError.from(e);
  const text = ce.rawMessage || Code[ce.code];
  const ms = retryDelayMs(e);
  if (ms === undefined) return text;
  return `${text.split("; retry in ")[0]}: try again in ${formatDelay(ms)}`;
}

// formatDelay is a retry delay as people read it: whole seconds, rounded
// up, from 1 s on.
export function formatDelay(ms: number): string {
  return ms < 1000 ? `${Math.ceil(ms)} ms` : `${Math.ceil(ms / 1000)} s`;
}

// transient tells whether e is worth retrying (with the same
// client_message_id, for a message).
export function transient(e: unknown): boolean {
  const c = ConnectError.from(e).code;
  return c === Code.Unavailable || c === Code.Unknown || c === Code.DeadlineExceeded || c === Code.Aborted || c === Code.Internal;
}

// retryDelayMs is, for a resource_exhausted error carrying a
// google.rpc.RetryInfo detail (a rate limit or quota, see
// docs/ROBUSTNESS.md), the milliseconds after which the same call would
// pass; undefined for any other error (a size limit, a slow reader).
export function retryDelayMs(e: unknown): number | undefined {
  const ce = ConnectError.from(e);
  if (ce.code !== Code.ResourceExhausted) return undefined;
  for (const d of ce.details) {
    if (!("type" in d) || d.type !== "google.rpc.RetryInfo") continue;
    try {
      return durationMs(d.value);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

// durationMs reads google.rpc.RetryInfo's retry_delay (field 1, a
// google.protobuf.Duration of seconds = 1 and nanos = 2) from its wire bytes.
// The page has no generated code for google.rpc, so this reads the two
// fields it needs with the protobuf runtime's wire reader.
function durationMs(info: Uint8Array): number {
  let ms = 0;
  const r = new BinaryReader(info);
  while (r.pos < r.len) {
    const [field, wireType] = r.tag();
    if (field !== 1) {
      r.skip(wireType);
      continue;
    }
    const d = new BinaryReader(r.bytes());
    while (d.pos < d.len) {
      const [f, t] = d.tag();
      if (f === 1) ms += Number(d.int64()) * 1000;
      else if (f === 2) ms += d.int32() / 1e6;
      else d.skip(t);
    }
  }
  return ms;
}
