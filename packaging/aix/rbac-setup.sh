#!/usr/bin/ksh
# Set up AIX Domain RBAC so that portgate-helper, and no other program, may
# bind the privileged ports of its policy. Run as root:
#   rbac-setup.sh [HELPER [ACCOUNT [PORT...]]]
# It makes PV_NET_PORT an innate privilege of the helper file, creates the
# domain portgate holding the account and the helper, guards each port as
# a netport object of that domain, and loads the tables into the kernel.
# Check the result with portgate doctor.
set -eu

helper=${1:-/usr/libexec/portgate/portgate-helper}
account=${2:-portgate}
if [ $# -gt 2 ]; then
	shift 2
	ports="$*"
else
	ports="80 443"
fi
domain=portgate

if [ "$(lsattr -El sys0 -a enhanced_RBAC | awk '{print $2}')" != true ]; then
	echo "rbac-setup: enhanced RBAC is off: run chdev -l sys0 -a enhanced_RBAC=true and reboot" >&2
	exit 1
fi
if [ ! -x "$helper" ]; then
	echo "rbac-setup: $helper not found: pass the helper's path as the first argument" >&2
	exit 1
fi
lsuser "$account" >/dev/null 2>&1 || {
	echo "rbac-setup: account $account not found: create it with mkuser $account" >&2
	exit 1
}

lsdom "$domain" >/dev/null 2>&1 || mkdom "$domain"
chuser domains="$domain" "$account"
setsecattr -c innateprivs=PV_NET_PORT "$helper"
setsecattr -o domains="$domain" objtype=file secflags=FSF_DOM_ANY "$helper"
for port in $ports; do
	for proto in TCP UDP; do
		setsecattr -o domains="$domain" objtype=netport secflags=FSF_DOM_ANY "${port}_${proto}"
	done
done
setkst
echo "rbac-setup: $helper holds PV_NET_PORT; ports $ports belong to domain $domain, which $account is in"
