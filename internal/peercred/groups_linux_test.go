package peercred

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// credOfChild runs the test binary as uid and gid 65534 with groups, has
// it connect to a fresh socket, and returns what Of reports for it.
func credOfChild(t *testing.T, groups []uint32) Cred {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test sets a child's groups and needs root, which CI has")
		}
		t.Skip("setting a child's groups needs root")
	}
	// t.TempDir sits in a directory closed to other users.
	dir, err := os.MkdirTemp("", "peercred-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "peer.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	if err := os.Chmod(path, 0o777); err != nil {
		t.Fatal(err)
	}

	// The build directory of the test binary is closed to other users, so
	// the child runs a copy.
	exe, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(dir, "peercred.test")
	if err := os.WriteFile(copied, exe, 0o755); err != nil {
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
