// Package parley is the domain of the Parley chat service: users, rooms,
// messages, the events that flow through a room, the error codes every layer
// speaks, and the interfaces storage engines and fan-out implement.
//
// It imports only the standard library. Protobuf types stop at the server and
// client packages; storage engines live in their own packages (sqlite, ...).
package parley
