package peercred

import (
	"unsafe"

	"github.com/portgate/portgate/internal/solarislibc"
)

// call names the kernel interface behind read, for error messages.
const call = "getpeerucred"

// golang.org/x/sys/unix wraps getpeerucred but not ucred_getzoneid, which
// the zone check needs, so this package imports the ucred functions from
// libc itself, as package internal/solarislibc describes.

//go:cgo_import_dynamic libc_portgate_getpeerucred getpeerucred "libc.so"
//go:cgo_import_dynamic libc_portgate_ucred_geteuid ucred_geteuid "libc.so"
//go:cgo_import_dynamic libc_portgate_ucred_getegid ucred_getegid "libc.so"
//go:cgo_import_dynamic libc_portgate_ucred_getpid ucred_getpid "libc.so"
//go:cgo_import_dynamic libc_portgate_ucred_getgroups ucred_getgroups "libc.so"
//go:cgo_import_dynamic libc_portgate_ucred_getzoneid ucred_getzoneid "libc.so"
//go:cgo_import_dynamic libc_portgate_ucred_free ucred_free "libc.so"
//go:cgo_import_dynamic libc_portgate_getzoneid getzoneid "libc.so"

//go:linkname libcGetpeerucred libc_portgate_getpeerucred
//go:linkname libcUcredGeteuid libc_portgate_ucred_geteuid
//go:linkname libcUcredGetegid libc_portgate_ucred_getegid
//go:linkname libcUcredGetpid libc_portgate_ucred_getpid
//go:linkname libcUcredGetgroups libc_portgate_ucred_getgroups
//go:linkname libcUcredGetzoneid libc_portgate_ucred_getzoneid
//go:linkname libcUcredFree libc_portgate_ucred_free
//go:linkname libcGetzoneid libc_portgate_getzoneid

var (
	libcGetpeerucred   uintptr
	libcUcredGeteuid   uintptr
	libcUcredGetegid   uintptr
	libcUcredGetpid    uintptr
	libcUcredGetgroups uintptr
	libcUcredGetzoneid uintptr
	libcUcredFree      uintptr
	libcGetzoneid      uintptr
)

// read returns the effective uid and gid and the pid of the peer of
// socket fd, as getpeerucred(3C) reports them. It rejects a peer in
// another zone, whose ids belong to that zone's accounts, and a peer
// without a uid or gid. The ucred_get* functions return -1 for a field
// the kernel did not record, and an unknown pid becomes 0.
//
// TODO: these ucred calls are cross-compiled and linked only, never run on Solaris or illumos.
func read(fd int) (Cred, error) {
	var ucred uintptr
	r1, _, errno := solarislibc.Sysvicall6(uintptr(unsafe.Pointer(&libcGetpeerucred)), 2, uintptr(fd), uintptr(unsafe.Pointer(&ucred)), 0, 0, 0, 0)
	if int32(r1) == -1 {
		return Cred{}, solarislibc.ErrnoOrUnknown(errno)
	}
	defer solarislibc.Sysvicall6(uintptr(unsafe.Pointer(&libcUcredFree)), 1, ucred, 0, 0, 0, 0, 0)

	zone, _, _ := solarislibc.Sysvicall6(uintptr(unsafe.Pointer(&libcUcredGetzoneid)), 1, ucred, 0, 0, 0, 0, 0)
	own, _, _ := solarislibc.Sysvicall6(uintptr(unsafe.Pointer(&libcGetzoneid)), 0, 0, 0, 0, 0, 0, 0)
	if err := checkPeerZone(int32(zone), int32(own)); err != nil {
		return Cred{}, err
	}
	euid, _, _ := solarislibc.Sysvicall6(uintptr(unsafe.Pointer(&libcUcredGeteuid)), 1, ucred, 0, 0, 0, 0, 0)
	egid, _, _ := solarislibc.Sysvicall6(uintptr(unsafe.Pointer(&libcUcredGetegid)), 1, ucred, 0, 0, 0, 0, 0)
	pid, _, _ := solarislibc.Sysvicall6(uintptr(unsafe.Pointer(&libcUcredGetpid)), 1, ucred, 0, 0, 0, 0, 0)
	cred, err := fromIDs(uint32(euid), uint32(egid), int32(pid))
	if err != nil {
		return Cred{}, err
	}
	// ucred_getgroups points into the ucred, so the groups are copied
	// before ucred_free. A count below 1 leaves the peer without groups.
	var groups *uint32
	n, _, _ := solarislibc.Sysvicall6(uintptr(unsafe.Pointer(&libcUcredGetgroups)), 2, ucred, uintptr(unsafe.Pointer(&groups)), 0, 0, 0, 0)
	if count := int32(n); count > 0 && groups != nil {
		cred.Groups = append([]uint32(nil), unsafe.Slice(groups, count)...)
	}
	return cred, nil
}
