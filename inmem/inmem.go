// Package inmem fans room events out to the subscribers of one process.
package inmem
