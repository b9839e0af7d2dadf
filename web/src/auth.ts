// Signing up, in and out: the welcome screen's form, and what ends a session.
import { Code, ConnectError } from "@connectrpc/connect";
import { enterChat } from "./chat";
import { h } from "./dom";
import { errorText } from "./error";
import { render } from "./page";
import { forgetRoom } from "./room";
import { beginSession, endSession, sessionHeaders } from "./session";
import { api } from "./transport";

export function authScreen(): HTMLElement {
  const error = h("p", { id: "auth-error", class: "error", role: "alert" });
  const form = h("form", { class: "card auth", "aria-labelledby": "auth-title" },
    h("h2", { id: "auth-title" }, "Welcome to Parley"),
    h("p", { class: "hint" }, "Sign in, or pick a username and password to create an account."),
    h("label", { for: "username" }, "Username"),
    h("input", { id: "username", name: "username", autocomplete: "username", required: true, minlength: 3, maxlength: 32, pattern: "[a-z0-9][a-z0-9._\\-]{2,31}", autocapitalize: "none", spellcheck: "false", "aria-describedby": "username-hint" }),
    h("p", { id: "username-hint", class: "hint" }, "3–32 lowercase letters, digits, '.', '_' or '-'."),
    h("label", { for: "password" }, "Password"),
    h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true, minlength: 8, maxlength: 128, "aria-describedby": "password-hint" }),
    h("p", { id: "password-hint", class: "hint" }, "At least 8 characters."),
    error,
    h("div", { class: "row" },
      h("button", { type: "submit", name: "action", value: "signin", class: "primary" }, "Sign in"),
      h("button", { type: "submit", name: "action", value: "signup" }, "Create account")),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const action = ((e as SubmitEvent).submitter as HTMLButtonElement | null)?.value ?? "signin";
    const data = new FormData(form);
    const req = { username: String(data.get("username")), password: String(data.get("password")) };
    error.textContent = "";
    form.setAttribute("aria-busy", "true");
    try {
      const opts = { headers: sessionHeaders };
      const res = action === "signup" ? await api().auth.signUp(req, opts) : await api().auth.signIn(req, opts);
      beginSession(res.user);
      await enterChat();
    } catch (err) {
      const ce = ConnectError.from(err);
      error.textContent = ce.code === Code.AlreadyExists ? "That username is taken." : ce.code === Code.Unauthenticated ? "Wrong username or password." : errorText(err);
    } finally {
      form.removeAttribute("aria-busy");
    }
  });
  queueMicrotask(() => document.getElementById("username")?.focus());
  return h("main", { class: "center" }, form);
}

export async function signOut() {
  try { await api().auth.signOut({}); } catch { /* the session is forgotten either way */ }
  dropSession();
}

// dropSession forgets the session (signed out, or the server no longer
// knows its cookie) and shows the welcome screen.
export function dropSession() {
  forgetRoom();
  endSession();
  render();
}
