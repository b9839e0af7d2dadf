// The RPC clients, over whichever protocol and codec the user picked: one
// handler on the server answers the Connect protocol and gRPC-Web, in JSON
// and in binary protobuf alike.
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { AuthService } from "./gen/parley/v1/auth_pb";
import { FileService } from "./gen/parley/v1/file_pb";
import { MessageService } from "./gen/parley/v1/message_pb";
import { RoomService } from "./gen/parley/v1/room_pb";

export type Protocol = "connect" | "grpcweb";
export type Codec = "json" | "binary";

export interface Clients {
  auth: Client<typeof AuthService>;
  rooms: Client<typeof RoomService>;
  messages: Client<typeof MessageService>;
  files: Client<typeof FileService>;
}

// newClients builds the four service clients. They send no token: the
// browser adds the session cookie to these same-origin POSTs by itself
// (fetch's default credentials), and the server accepts it only on such
// requests (server/session_cookie.go), never on a Connect GET.
export function newClients(protocol: Protocol, codec: Codec): Clients {
  const options = {
    baseUrl: location.origin,
    useBinaryFormat: codec === "binary",
  };
  const transport: Transport =
    protocol === "grpcweb" ? createGrpcWebTransport(options) : createConnectTransport(options);
  return {
    auth: createClient(AuthService, transport),
    rooms: createClient(RoomService, transport),
    messages: createClient(MessageService, transport),
    files: createClient(FileService, transport),
  };
}
