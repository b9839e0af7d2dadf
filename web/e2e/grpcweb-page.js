// The page of the grpc-web scenario (web/e2e/grpcweb.mjs): the official
// grpc-web client (npm grpc-web) with method descriptors and protobuf
// (de)serializers written by hand, since protoc-gen-grpc-web cannot be
// installed here. Bundled with esbuild into an IIFE that sets
// window.parleyGrpcWeb; every function takes the client format ("text" or
// "binary") and the server's URL.
import { GrpcWebClientBase, MethodDescriptor, MethodType } from "grpc-web";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

// ---------- protobuf, by hand ----------
// A schema maps field numbers to [name, type]; type is "string", "int64",
// "int32", "bytes", or a nested schema. Only what the calls below need.

function encode(schema, obj) {
  const w = new BinaryWriter();
  for (const [no, [name, type]] of Object.entries(schema)) {
    const v = obj[name];
    if (v === undefined || v === "" || v === 0) continue;
    if (type === "string") w.tag(Number(no), WireType.LengthDelimited).string(v);
    else if (type === "int64") w.tag(Number(no), WireType.Varint).int64(v);
    else if (type === "int32") w.tag(Number(no), WireType.Varint).int32(v);
    else throw new Error(`cannot encode ${type}`);
  }
  return w.finish();
}

function decode(schema, bytes) {
  const r = new BinaryReader(bytes);
  const obj = {};
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    const field = schema[no];
    if (!field) { r.skip(wt, no); continue; }
    const [name, type, repeated] = field;
    let v;
    if (type === "string") v = r.string();
    else if (type === "int64") v = Number(r.int64());
    else if (type === "int32") v = r.int32();
    else if (type === "bytes") v = r.bytes();
    else v = decode(type, r.bytes());
    if (repeated) (obj[name] ??= []).push(v);
    else obj[name] = v;
  }
  return obj;
}

const User = { 1: ["id", "string"], 2: ["username", "string"] };
const Message = { 1: ["id", "string"], 2: ["roomId", "string"], 3: ["seq", "int64"], 4: ["sender", User], 5: ["text", "string"], 7: ["clientMessageId", "string"] };
const schemas = {
  HelloRequest: { 1: ["name", "string"] },
  HelloReply: { 1: ["message", "string"] },
  SignUpRequest: { 1: ["username", "string"], 2: ["password", "string"] },
  SignUpResponse: { 1: ["user", User], 2: ["token", "string"] },
  CreateRoomRequest: { 1: ["name", "string"], 2: ["visibility", "int32"] },
  CreateRoomResponse: { 1: ["room", { 1: ["id", "string"], 2: ["name", "string"] }] },
  SendMessageRequest: { 1: ["roomId", "string"], 2: ["text", "string"], 3: ["clientMessageId", "string"] },
  SendMessageResponse: { 1: ["message", Message] },
  SubscribeRequest: { 1: ["roomId", "string"], 2: ["sinceSeq", "int64"] },
  SubscribeResponse: { 1: ["message", Message], 4: ["heartbeat", { 2: ["lastSeq", "int64"] }] },
  // google.rpc.Status and google.rpc.BadRequest, for grpc-status-details-bin.
  Status: { 1: ["code", "int32"], 2: ["message", "string"], 3: ["details", { 1: ["typeUrl", "string"], 2: ["value", "bytes"] }, true] },
  BadRequest: { 1: ["fieldViolations", { 1: ["field", "string"], 2: ["description", "string"] }, true] },
};

function method(path, type, req, res) {
  return new MethodDescriptor(path, type, Object, Object,
    (msg) => encode(schemas[req], msg),
    (bytes) => decode(schemas[res], bytes));
}

const methods = {
  sayHello: method("/helloworld.Greeter/SayHello", MethodType.UNARY, "HelloRequest", "HelloReply"),
  signUp: method("/parley.v1.AuthService/SignUp", MethodType.UNARY, "SignUpRequest", "SignUpResponse"),
  createRoom: method("/parley.v1.RoomService/CreateRoom", MethodType.UNARY, "CreateRoomRequest", "CreateRoomResponse"),
  sendMessage: method("/parley.v1.MessageService/SendMessage", MethodType.UNARY, "SendMessageRequest", "SendMessageResponse"),
  subscribe: method("/parley.v1.MessageService/Subscribe", MethodType.SERVER_STREAMING, "SubscribeRequest", "SubscribeResponse"),
};

function client(format) {
  return new GrpcWebClientBase({ format });
}

function unary(format, base, name, req, metadata = {}) {
  const m = methods[name];
  return client(format).unaryCall(base + m.getName(), req, metadata, m);
}

function auth(token) {
  return { Authorization: `Bearer ${token}` };
}

// errorInfo turns an RpcError into plain data, with the google.rpc.Status
// from grpc-status-details-bin decoded.
function errorInfo(err) {
  const info = { code: err.code, message: err.message, violations: [] };
  const bin = err.metadata?.["grpc-status-details-bin"];
  if (bin) {
    const raw = Uint8Array.from(atob(bin.padEnd(Math.ceil(bin.length / 4) * 4, "=")), (c) => c.charCodeAt(0));
    const status = decode(schemas.Status, raw);
    info.statusCode = status.code;
    for (const d of status.details ?? []) {
      if (d.typeUrl === "type.googleapis.com/google.rpc.BadRequest") {
        for (const v of decode(schemas.BadRequest, d.value).fieldViolations ?? []) info.violations.push(v);
      }
    }
  }
  return info;
}

// ---------- what the scenario calls ----------

async function sayHello(format, base, name) {
  try {
    return { message: (await unary(format, base, "sayHello", { name })).message };
  } catch (err) {
    return { error: errorInfo(err) };
  }
}

async function signUp(format, base, username, password) {
  const res = await unary(format, base, "signUp", { username, password });
  return res.token;
}

async function createRoom(format, base, token, name) {
  const res = await unary(format, base, "createRoom", { name, visibility: 1 }, auth(token));
  return res.room.id;
}

async function sendMessage(format, base, token, roomId, text, clientMessageId) {
  try {
    const res = await unary(format, base, "sendMessage", { roomId, text, clientMessageId }, auth(token));
    return { seq: res.message.seq };
  } catch (err) {
    return { error: errorInfo(err) };
  }
}

// subscribeLive sends one message, subscribes from seq 0 (so its replay
// shows the stream is established), then sends n more one at a time and
// measures, for each, the time from calling SendMessage to its arrival on
// the stream. Then it cancels the stream.
async function subscribeLive(format, base, token, roomId, n, prefix) {
  const first = await sendMessage(format, base, token, roomId, `${prefix} 0`, `${prefix}-0`);
  if (first.error) throw new Error(`SendMessage: ${JSON.stringify(first.error)}`);
  const m = methods.subscribe;
  const stream = client(format).serverStreaming(base + m.getName(), { roomId, sinceSeq: 0 }, auth(token), m);
  const waiting = new Map(); // text -> resolve
  const seen = [];
  let failure = null;
  stream.on("data", (res) => {
    if (!res.message) return;
    seen.push(res.message.text);
    waiting.get(res.message.text)?.(performance.now());
  });
  stream.on("error", (err) => { failure = errorInfo(err); for (const resolve of waiting.values()) resolve(NaN); });
  const arrival = (text, timeoutMs) => new Promise((resolve) => {
    if (seen.includes(text)) return resolve(performance.now());
    waiting.set(text, resolve);
    setTimeout(() => resolve(NaN), timeoutMs);
  });
  if (Number.isNaN(await arrival(`${prefix} 0`, 5000))) {
    stream.cancel();
    return { error: failure ?? "the replayed message did not arrive within 5 s", seen };
  }
  const latencies = [];
  for (let i = 1; i <= n; i++) {
    const text = `${prefix} ${i}`;
    const arrived = arrival(text, 5000);
    const start = performance.now();
    const sent = await sendMessage(format, base, token, roomId, text, `${prefix}-${i}`);
    if (sent.error) throw new Error(`SendMessage: ${JSON.stringify(sent.error)}`);
    latencies.push((await arrived) - start);
  }
  stream.cancel();
  return { latencies, seen, error: failure };
}

// subscribeDeadline subscribes with a deadline of ms and reports how and
// when the stream ended.
function subscribeDeadline(format, base, token, roomId, ms) {
  const m = methods.subscribe;
  const start = performance.now();
  const stream = client(format).serverStreaming(base + m.getName(), { roomId, sinceSeq: 0 },
    { ...auth(token), deadline: String(Date.now() + ms) }, m);
  let messages = 0;
  return new Promise((resolve) => {
    stream.on("data", () => messages++);
    stream.on("error", (err) => resolve({ ...errorInfo(err), elapsed: performance.now() - start, messages }));
    stream.on("end", () => resolve({ code: 0, elapsed: performance.now() - start, messages }));
  });
}

window.parleyGrpcWeb = { sayHello, signUp, createRoom, sendMessage, subscribeLive, subscribeDeadline };
