package peercred

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestConnectHelperProcess is not a test: the tests below run the test
// binary with PEERCRED_CONNECT set, and it then connects to that socket
// and waits for the other end to hang up.
func TestConnectHelperProcess(t *testing.T) {
	path := os.Getenv("PEERCRED_CONNECT")
	if path == "" {
		t.Skip("runs only as a subprocess of the group tests")
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		os.Exit(2)
	}
	c.Read(make([]byte, 1))
	os.Exit(0)
}

// requireRoot skips the test without root, or fails it under CI=true,
// where the tests run as root.
func requireRoot(t *testing.T, action string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s needs root, which CI has", action)
	}
	t.Skipf("%s needs root", action)
}

// publicCopy returns a fresh directory that every user may enter, and a
// copy of the test binary in it: t.TempDir and the build directory of the
// test binary are closed to other users.
func publicCopy(t *testing.T) (dir, exe string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "peercred-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	exe = filepath.Join(dir, "peercred.test")
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, exe
}

// credOfChild runs the test binary as uid and gid 65534 with groups, has
// it connect to a fresh socket, and returns what Of reports for it.
func credOfChild(t *testing.T, groups []uint32) Cred {
	t.Helper()
	requireRoot(t, "setting a child's groups")
	dir, copied := publicCopy(t)
	path := filepath.Join(dir, "peer.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	if err := os.Chmod(path, 0o777); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(copied, "-test.run=^TestConnectHelperProcess$")
	cmd.Env = append(os.Environ(), "PEERCRED_CONNECT="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: groups}}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start connecting child: %v", err)
	}
	defer cmd.Wait()

	ln.SetDeadline(time.Now().Add(10 * time.Second))
	conn, err := ln.AcceptUnix()
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("accept the child's connection: %v", err)
	}
	defer conn.Close()
	cred, err := Of(conn)
	if err != nil {
		t.Fatalf("Of: %v", err)
	}
	if cred.UID != 65534 || cred.GID != 65534 {
		t.Errorf("uid and gid: got %d and %d, expected 65534 and 65534", cred.UID, cred.GID)
	}
	return cred
}

func TestGroupsOfPeer(t *testing.T) {
	cred := credOfChild(t, []uint32{4321, 4322})
	for _, g := range []uint32{4321, 4322} {
		if !slices.Contains(cred.Groups, g) {
			t.Errorf("groups %v: group %d missing", cred.Groups, g)
		}
	}
	if !cred.MemberOf(map[uint32]bool{4322: true}) {
		t.Errorf("MemberOf(4322) is false for groups %v", cred.Groups)
	}
	if cred.MemberOf(map[uint32]bool{4323: true}) {
		t.Errorf("MemberOf(4323) is true for groups %v", cred.Groups)
	}
}

// A peer in more groups than the first buffer holds takes the second
// SO_PEERGROUPS call.
func TestGroupsOfPeerInManyGroups(t *testing.T) {
	var groups []uint32
	for g := uint32(5000); g < 5100; g++ {
		groups = append(groups, g)
	}
	cred := credOfChild(t, groups)
	if len(cred.Groups) != len(groups) {
		t.Fatalf("got %d groups, expected %d", len(cred.Groups), len(groups))
	}
	for _, g := range groups {
		if !slices.Contains(cred.Groups, g) {
			t.Errorf("group %d missing", g)
		}
	}
}

func TestGroupsOfPeerInNoGroup(t *testing.T) {
	cred := credOfChild(t, []uint32{})
	if len(cred.Groups) != 0 {
		t.Errorf("groups: got %v, expected none", cred.Groups)
	}
	if !cred.MemberOf(map[uint32]bool{65534: true}) {
		t.Error("MemberOf is false for the peer's own gid")
	}
}

func TestWithoutGID(t *testing.T) {
	got := withoutGID([]uint32{65534, 10, 65534, 20}, 65534)
	if !slices.Equal(got, []uint32{10, 20}) {
		t.Errorf("got %v, expected [10 20]", got)
	}
	if got := withoutGID([]uint32{10, 20}, noID); !slices.Equal(got, []uint32{10, 20}) {
		t.Errorf("with noID: got %v, expected [10 20]", got)
	}
}

// In the initial user namespace every group has a mapping, so no group is
// dropped: a peer may really be in group 65534.
func TestUnmappedGIDInInitialNamespace(t *testing.T) {
	m, err := os.ReadFile("/proc/self/gid_map")
	if err != nil || strings.Join(strings.Fields(string(m)), " ") != "0 0 4294967295" {
		t.Skip("the test does not run in the initial user namespace")
	}
	if unmappedGID != noID {
		t.Errorf("unmappedGID %d in the initial user namespace, expected none", unmappedGID)
	}
	cred := credOfChild(t, []uint32{65534, 4321})
	if !slices.Contains(cred.Groups, 65534) {
		t.Errorf("groups %v: group 65534 missing", cred.Groups)
	}
}

// TestListenHelperProcess is not a test: TestGroupsInUserNamespace runs
// the test binary in a user namespace with PEERCRED_LISTEN set. It then
// accepts one connection on that socket and prints the peer's groups.
func TestListenHelperProcess(t *testing.T) {
	path := os.Getenv("PEERCRED_LISTEN")
	if path == "" {
		t.Skip("runs only as a subprocess of TestGroupsInUserNamespace")
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		os.Exit(2)
	}
	os.Chmod(path, 0o777)
	ln.SetDeadline(time.Now().Add(10 * time.Second))
	conn, err := ln.AcceptUnix()
	if err != nil {
		os.Exit(3)
	}
	cred, err := Of(conn)
	if err != nil {
		os.Exit(4)
	}
	fmt.Println(cred.Groups)
	os.Exit(0)
}

// In a user namespace that maps only root, the kernel reports the peer's
// unmapped groups as the overflow gid, which must not be taken for a
// group the peer is in.
func TestGroupsInUserNamespace(t *testing.T) {
	requireRoot(t, "creating a user namespace with chosen maps")

	dir, exe := publicCopy(t)
	path := filepath.Join(dir, "ns.sock")
	listener := exec.Command(exe, "-test.run=^TestListenHelperProcess$")
	listener.Env = append(os.Environ(), "PEERCRED_LISTEN="+path)
	listener.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
	}
	var out strings.Builder
	listener.Stdout = &out
	if err := listener.Start(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("start a process in a user namespace: %v", err)
		}
		t.Skipf("cannot start a process in a user namespace here: %v", err)
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			break
		}
		if time.Now().After(deadline) {
			listener.Process.Kill()
			listener.Wait()
			t.Fatal("the listener in the user namespace did not create its socket within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}

	client := exec.Command(exe, "-test.run=^TestConnectHelperProcess$")
	client.Env = append(os.Environ(), "PEERCRED_CONNECT="+path)
	client.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{4321, 4322}}}
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	if err := listener.Wait(); err != nil {
		client.Process.Kill()
		client.Wait()
		t.Fatalf("listener in the user namespace: %v", err)
	}
	client.Wait()
	if got := strings.TrimSpace(out.String()); got != "[]" {
		t.Errorf("groups of a peer in unmapped groups 4321 and 4322: got %s, expected none", got)
	}
}
