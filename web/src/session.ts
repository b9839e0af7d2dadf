// The signed-in user and their bearer token. The token is remembered across
// visits; the user is asked for again (GetMe) on every load.
import type { User } from "./gen/parley/v1/auth_pb";
import { storage } from "./storage";

export const session = {
  token: storage.get("token"),
  user: undefined as User | undefined,
};

// beginSession keeps what a sign-in or sign-up answered.
export function beginSession(token: string, user: User | undefined) {
  session.token = token;
  storage.set("token", token);
  session.user = user;
}

// endSession forgets the token and the user.
export function endSession() {
  session.token = "";
  storage.set("token", "");
  session.user = undefined;
}
