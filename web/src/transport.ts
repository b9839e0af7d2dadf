// The transport picked with the switches in the top bar (remembered across
// visits) and the service clients over it.
import { newClients, type Clients, type Codec, type Protocol } from "./rpc";
import { storage } from "./storage";

// transport is the current choice; change it with useTransport.
export const transport = {
  protocol: (storage.get("protocol") || "connect") as Protocol,
  codec: (storage.get("codec") || "json") as Codec,
};

let clients: Clients = newClients(transport.protocol, transport.codec);

// api returns the clients over the current transport. Ask for them at each
// call rather than keeping them: useTransport replaces them.
export function api(): Clients {
  return clients;
}

// useTransport makes every call from now on use protocol and codec.
export function useTransport(protocol: Protocol, codec: Codec) {
  transport.protocol = protocol;
  transport.codec = codec;
  storage.set("protocol", protocol);
  storage.set("codec", codec);
  clients = newClients(protocol, codec);
}
