// Package e2e holds the end-to-end tests of portgate. They build the real
// binaries, give a copy of portgate-helper a real file capability, and run
// the server and its clients as unprivileged users inside a network
// namespace of their own, so nothing they bind is visible to the host.
//
// They need root to set that up. Without root they skip; with CI=true in
// the environment they fail instead, so that CI cannot pass without them.
package e2e
