// Parley in the browser: sign in, pick a room, chat live. Messages go out
// with unary SendMessage (browsers cannot stream requests) and come in
// through the Subscribe server stream, resumed from the last seq seen after
// any break (subscription.ts).
import "./style.css";
import { Code, ConnectError } from "@connectrpc/connect";
import { dropSession } from "./auth";
import { enterChat } from "./chat";
import { foldMembersOnEscape } from "./members";
import { render } from "./page";
import { followNetwork } from "./roomFeed";
import { hasSession, session, takeLegacyToken } from "./session";
import { api } from "./transport";
import { followUnread } from "./unread";

// start shows the page and, when an earlier visit signed in, the chat of
// the user its session cookie belongs to.
async function start() {
  render();
  const legacy = takeLegacyToken();
  if (legacy) void api().auth.signOut({}, { headers: { Authorization: `Bearer ${legacy}` } }).catch(() => {});
  if (!hasSession()) return;
  try {
    session.user = (await api().auth.getMe({})).user;
    await enterChat();
  } catch (err) {
    if (ConnectError.from(err).code === Code.Unauthenticated) dropSession();
    else render();
  }
}

followNetwork();
followUnread();
foldMembersOnEscape();
void start();
