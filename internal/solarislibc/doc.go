// Package solarislibc calls libc functions that golang.org/x/sys/unix does
// not wrap on Solaris and illumos, the way the Go runtime and x/sys call
// libc there. It holds no privilege and imports no function itself.
//
// A package that calls a libc function declares it in three parts: a
// //go:cgo_import_dynamic line makes the linker import the function from
// libc.so, a //go:linkname variable holds its address, and Sysvicall6
// calls it. Each local name starts with libc_ because the amd64 assembler
// addresses only such symbols as Solaris dynamic imports. The portgate_
// part keeps them apart from the names golang.org/x/sys/unix imports. Each
// package of portgate imports only the functions it calls, under names no
// other package uses: the helper its privilege functions, internal/peercred
// the ucred functions.
package solarislibc
