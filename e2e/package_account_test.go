package e2e

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// accountScript runs the Debian package's preinst and postrm in a mount
// namespace where copies of /etc, /var/lib, /run and /var/log hide the
// host's, so that adding and deleting the account portgate touches only
// the copies. The words ACCOUNT-OK end a run whose checks all passed.
const accountScript = `set -eu
for d in etc var/lib run var/log; do
	mkdir -p "$WORK/$d"
	cp -a "/$d/." "$WORK/$d/" 2>/dev/null || true
	mount --bind "$WORK/$d" "/$d"
done
userdel portgate 2>/dev/null || true
groupdel portgate 2>/dev/null || true
if [ "$EXISTING" = yes ]; then
	groupadd --system portgate
	useradd --system --gid portgate --no-create-home portgate
fi
sh "$PKG/preinst" install
getent passwd portgate >/dev/null || { echo "preinst made no account"; exit 1; }
getent group portgate >/dev/null || { echo "preinst made no group"; exit 1; }
sh "$PKG/postrm" purge
if [ "$EXISTING" = yes ]; then
	getent passwd portgate >/dev/null || { echo "purge removed an account it did not create"; exit 1; }
else
	! getent passwd portgate >/dev/null || { echo "purge left the account it created"; exit 1; }
	! getent group portgate >/dev/null || { echo "purge left the group it created"; exit 1; }
fi
[ ! -e /var/lib/portgate ] || { echo "purge left /var/lib/portgate"; exit 1; }
echo ACCOUNT-OK
`

// The package's scripts create the account and group portgate when they
// are missing, and purge removes them only then. TestDebLifecycle covers
// one of the two cases, whichever this host is in.
func TestDebScriptsAccount(t *testing.T) {
	requireRoot(t)
	requireTools(t, "useradd", "groupadd", "userdel", "getent")
	for _, existing := range []string{"no", "yes"} {
		t.Run("existing="+existing, func(t *testing.T) {
			cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", accountScript)
			cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "WORK=" + t.TempDir(), "PKG=" + pkgScripts(t), "EXISTING=" + existing}
			done := timeoutKill(cmd, time.Minute)
			out, err := cmd.CombinedOutput()
			done()
			if err != nil || !strings.Contains(string(out), "ACCOUNT-OK") {
				t.Errorf("preinst and postrm with existing=%s: %v\n%s", existing, err, out)
			}
		})
	}
}

func pkgScripts(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("realpath", "../packaging/deb").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
