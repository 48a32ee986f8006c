package helper

import (
	"fmt"
	"syscall"
	"unsafe"

	"github.com/portgate/portgate/internal/solarislibc"
)

// golang.org/x/sys/unix does not wrap the privilege functions of libc, so
// the helper imports them itself, as package internal/solarislibc describes.

//go:cgo_import_dynamic libc_portgate_priv_getbyname priv_getbyname "libc.so"
//go:cgo_import_dynamic libc_portgate_priv_str_to_set priv_str_to_set "libc.so"
//go:cgo_import_dynamic libc_portgate_priv_allocset priv_allocset "libc.so"
//go:cgo_import_dynamic libc_portgate_priv_emptyset priv_emptyset "libc.so"
//go:cgo_import_dynamic libc_portgate_priv_intersect priv_intersect "libc.so"
//go:cgo_import_dynamic libc_portgate_priv_freeset priv_freeset "libc.so"
//go:cgo_import_dynamic libc_portgate_getppriv getppriv "libc.so"
//go:cgo_import_dynamic libc_portgate_setppriv setppriv "libc.so"

//go:linkname libcPrivGetbyname libc_portgate_priv_getbyname
//go:linkname libcPrivStrToSet libc_portgate_priv_str_to_set
//go:linkname libcPrivAllocset libc_portgate_priv_allocset
//go:linkname libcPrivEmptyset libc_portgate_priv_emptyset
//go:linkname libcPrivIntersect libc_portgate_priv_intersect
//go:linkname libcPrivFreeset libc_portgate_priv_freeset
//go:linkname libcGetppriv libc_portgate_getppriv
//go:linkname libcSetppriv libc_portgate_setppriv

var (
	libcPrivGetbyname uintptr
	libcPrivStrToSet  uintptr
	libcPrivAllocset  uintptr
	libcPrivEmptyset  uintptr
	libcPrivIntersect uintptr
	libcPrivFreeset   uintptr
	libcGetppriv      uintptr
	libcSetppriv      uintptr
)

// privOpSet is PRIV_SET of enum priv_op in priv.h, which replaces a set.
const privOpSet = 2

// privSet is the address of a priv_set_t that libc allocated, released
// with free.
type privSet uintptr

// privilegeKnown reports whether the kernel defines the privilege name.
func privilegeKnown(name string) bool {
	p, err := syscall.BytePtrFromString(name)
	if err != nil {
		return false
	}
	r1, _, _ := solarislibc.Sysvicall6(uintptr(unsafe.Pointer(&libcPrivGetbyname)), 1, uintptr(unsafe.Pointer(p)), 0, 0, 0, 0, 0)
	return int32(r1) >= 0
}

// parsePrivSet builds the set that spec, a comma-separated list of
// privilege names, describes.
func parsePrivSet(spec string) (privSet, error) {
	p, err := syscall.BytePtrFromString(spec)
	if err != nil {
		return 0, fmt.Errorf("privilege specification %q: %w", spec, err)
	}
	sep := [2]byte{','}
	r1, _, errno := solarislibc.Sysvicall6(uintptr(unsafe.Pointer(&libcPrivStrToSet)), 3, uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(&sep[0])), 0, 0, 0, 0)
	if r1 == 0 {
		return 0, fmt.Errorf("priv_str_to_set %q: %w", spec, solarislibc.ErrnoOrUnknown(errno))
	}
	return privSet(r1), nil
}

// emptyPrivSet allocates a set with no privilege in it.
func emptyPrivSet() (privSet, error) {
	r1, _, errno := solarislibc.Sysvicall6(uintptr(unsafe.Pointer(&libcPrivAllocset)), 0, 0, 0, 0, 0, 0, 0)
	if r1 == 0 {
		return 0, fmt.Errorf("priv_allocset: %w", solarislibc.ErrnoOrUnknown(errno))
	}
	solarislibc.Sysvicall6(uintptr(unsafe.Pointer(&libcPrivEmptyset)), 1, r1, 0, 0, 0, 0, 0)
	return privSet(r1), nil
}

// intersect removes from s every privilege that other lacks.
func (s privSet) intersect(other privSet) {
	solarislibc.Sysvicall6(uintptr(unsafe.Pointer(&libcPrivIntersect)), 2, uintptr(other), uintptr(s), 0, 0, 0, 0)
}

func (s privSet) free() {
	solarislibc.Sysvicall6(uintptr(unsafe.Pointer(&libcPrivFreeset)), 1, uintptr(s), 0, 0, 0, 0, 0)
}

// readProcessPrivSet copies the process's privilege set named setName,
// such as privPermitted, into s.
func readProcessPrivSet(setName string, s privSet) error {
	p, err := syscall.BytePtrFromString(setName)
	if err != nil {
		return fmt.Errorf("privilege set %q: %w", setName, err)
	}
	r1, _, errno := solarislibc.Sysvicall6(uintptr(unsafe.Pointer(&libcGetppriv)), 2, uintptr(unsafe.Pointer(p)), uintptr(s), 0, 0, 0, 0)
	if int32(r1) == -1 {
		return fmt.Errorf("getppriv %s: %w", setName, solarislibc.ErrnoOrUnknown(errno))
	}
	return nil
}

// setProcessPrivSet replaces the process's privilege set named setName
// with s, for every thread of the process.
func setProcessPrivSet(setName string, s privSet) error {
	p, err := syscall.BytePtrFromString(setName)
	if err != nil {
		return fmt.Errorf("privilege set %q: %w", setName, err)
	}
	r1, _, errno := solarislibc.Sysvicall6(uintptr(unsafe.Pointer(&libcSetppriv)), 3, privOpSet, uintptr(unsafe.Pointer(p)), uintptr(s), 0, 0, 0)
	if int32(r1) == -1 {
		return fmt.Errorf("setppriv PRIV_SET %s: %w", setName, solarislibc.ErrnoOrUnknown(errno))
	}
	return nil
}
