// randomId returns 128 random bits in hex: the client_message_id of a
// message, the key of an upload.
export function randomId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
