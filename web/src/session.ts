// The signed-in user. The session token itself never reaches this page's
// script: SignIn and SignUp deliver it as an HttpOnly cookie (sessionHeaders),
// which the browser sends with every same-origin call. What is remembered
// across visits is only that there is a session, so a reload asks for the
// user (GetMe) and a signed-out visitor's page makes no call.
import type { User } from "./gen/parley/v1/auth_pb";
import { storage } from "./storage";

export const session = {
  user: undefined as User | undefined,
};

// sessionHeaders ask SignIn and SignUp for the token as a session cookie
// instead of in the response.
export const sessionHeaders = { "Parley-Session": "cookie" };

// hasSession tells whether an earlier visit signed in (and did not sign out).
export function hasSession(): boolean {
  return storage.get("signedIn") === "1";
}

// beginSession keeps the user a sign-in or sign-up answered.
export function beginSession(user: User | undefined) {
  storage.set("signedIn", "1");
  session.user = user;
}

// endSession forgets the user.
export function endSession() {
  storage.set("signedIn", "");
  session.user = undefined;
}

// takeLegacyToken removes a bearer token that earlier versions of the app
// kept in localStorage, where any script of the origin could read it, and
// returns it (to be revoked), or "".
export function takeLegacyToken(): string {
  const token = storage.get("token");
  storage.set("token", "");
  return token;
}
