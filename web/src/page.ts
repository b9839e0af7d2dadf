// The whole page: the top bar over the welcome screen or the chat.
import { authScreen } from "./auth";
import { chatScreen } from "./chat";
import { byId } from "./dom";
import { header } from "./header";
import { session } from "./session";

// render draws the page afresh from the current state.
export function render() {
  byId("app").replaceChildren(header(), session.user ? chatScreen() : authScreen());
}
