#!/bin/bash
# Runs the portgate benchmarks and writes BENCHMARKS.md. Run as root from
# the repository root, through `make bench`.
#
# It installs the peers it compares against (Debian packages) and builds
# the binaries into a fresh directory under /tmp, where a copy of the
# helper gets its file capability. Every measurement runs on loopback
# inside a network namespace that the script creates with unshare. The raw
# results go to bench/out/, which `pgbench report` turns into BENCHMARKS.md.
#
# Settings, from the environment:
#   WRK_SECONDS   length of each wrk run (default 3)
#   REPS          rounds of each wrk comparison (default 3)
#   PAIRS         rounds of the data path's helper against direct (default 8)
#   CHURN_ROUNDS  rounds with and without churn (default 5)
#   PACE_RATE     requests per second of the paced load (default 1000)
#   CHURN_RATE    services added and removed per second with it (default 20)
#   GRANTS        timed grants per case (default 5000)
#   STARTS        cold starts per case (default 20)
#   SECTIONS      which of grant coldstart datapath churn scale proxy to
#                 run; the report needs all of them
set -euo pipefail

WRK_SECONDS=${WRK_SECONDS:-3}
REPS=${REPS:-3}
PAIRS=${PAIRS:-8}
CHURN_ROUNDS=${CHURN_ROUNDS:-5}
PACE_RATE=${PACE_RATE:-1000}
CHURN_RATE=${CHURN_RATE:-20}
GRANTS=${GRANTS:-5000}
STARTS=${STARTS:-20}
NOBODY=65534
PACKAGES="authbind s6 libs6-dev skalibs-dev wrk socat nftables gcc libcap2-bin iproute2 util-linux procps linux-perf"

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $(date +%H:%M:%S) $*" >&2; }

# ---- outside the namespace: install, build, then re-enter this script ----

install_peers() {
	local missing=()
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing ${missing[*]}"
		apt-get update -q >/dev/null || die "apt-get update failed"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null ||
			die "apt-get install ${missing[*]} failed"
	fi
	for tool in systemd-socket-activate /lib/systemd/systemd-socket-proxyd; do
		command -v "$tool" >/dev/null || die "$tool not found: install systemd"
	done
}

build() {
	local work=$1 ldflags
	ldflags="-X github.com/portgate/portgate/helper.PolicyPath=$work/etc/helper.toml"
	log "building into $work"
	CGO_ENABLED=0 go build -ldflags "$ldflags" -o "$work/portgate" ./cmd/portgate
	CGO_ENABLED=0 go build -ldflags "$ldflags" -o "$work/portgate-helper" ./cmd/portgate-helper
	CGO_ENABLED=0 go build -o "$work/pgbench" ./bench/cmd/pgbench
	gcc -O2 -Wall -o "$work/bindloop" bench/c/bindloop.c
	gcc -O2 -Wall -I/usr/include/"$(gcc -dumpmachine)" -o "$work/s6retrieve" bench/c/s6retrieve.c -ls6 -lskarnet
	setcap cap_net_bind_service,cap_setpcap=p "$work/portgate-helper"
}

write_files() {
	local work=$1
	mkdir -m 0755 "$work/etc" "$work/www" "$work/state"
	cat >"$work/etc/helper.toml" <<EOF
[daemon]
socket = "$work/helperd/helper.sock"
socket_group = "$NOBODY"
socket_mode = "0660"
user = "$NOBODY"

[[allow]]
users = ["$NOBODY"]
addresses = ["127.0.0.1"]
ports = [80, "81-99", "10000-19999"]

# The benchmarks send thousands of requests over one connection.
[limits]
requests_per_second = 1000000
burst = 1000000
max_sockets_per_peer = 100000
EOF
	chmod 0644 "$work/etc/helper.toml"
	head -c 600 /dev/zero | tr '\0' 'x' >"$work/www/index.html"
	head -c 1048576 /dev/zero >"$work/www/big.bin"
	chmod -R a+rX "$work/www"
	chmod 1777 "$work/state"
	# A static file served at / lets the cold start check GET /.
	for port in 80 8080; do
		cat >"$work/etc/web$port.toml" <<EOF
shutdown_timeout = "2s"

[[service]]
name = "web"
kind = "http"
listen = ["tcp://127.0.0.1:$port"]
root = "$work/www"
EOF
	done
	# Both services in one process, so that the two sockets are compared
	# with the same heap, threads and CPU placement.
	cat >"$work/etc/both.toml" <<EOF
shutdown_timeout = "2s"

[[service]]
name = "web"
kind = "http"
listen = ["tcp://127.0.0.1:80"]
root = "$work/www"

[[service]]
name = "web-direct"
kind = "http"
listen = ["tcp://127.0.0.1:8080"]
root = "$work/www"
EOF
	cat >"$work/etc/proxy.toml" <<EOF
shutdown_timeout = "2s"

[[service]]
name = "proxy"
kind = "proxy"
listen = ["tcp://127.0.0.1:9001"]
backend = "127.0.0.1:8080"
EOF
	chmod 0644 "$work"/etc/*.toml
}

machine_info() {
	{
		printf 'cpu\t%s\n' "$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
		printf 'nproc\t%s\n' "$(nproc)"
		printf 'kernel\t%s\n' "$(uname -r)"
		printf 'go\t%s\n' "$(go version)"
		printf 'commit\t%s\n' "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
		printf 'date\t%s\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
		printf 'settings\tWRK_SECONDS=%s REPS=%s PAIRS=%s CHURN_ROUNDS=%s PACE_RATE=%s CHURN_RATE=%s GRANTS=%s STARTS=%s\n' \
			"$WRK_SECONDS" "$REPS" "$PAIRS" "$CHURN_ROUNDS" "$PACE_RATE" "$CHURN_RATE" "$GRANTS" "$STARTS"
		for p in authbind s6 wrk socat nftables systemd; do
			printf 'pkg\t%s %s\n' "$p" "$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo '?')"
		done
	} >"$OUT/machine.tsv"
}

outside() {
	[ "$(id -u)" = 0 ] || die "run as root: the benchmarks set a file capability and create a network namespace"
	command -v go >/dev/null || die "go not found"
	install_peers
	WORK=$(mktemp -d /tmp/portgate-bench.XXXXXX)
	chmod 0755 "$WORK"
	AUTHBIND_FILE=/etc/authbind/byport/80
	trap 'rm -rf "$WORK"; [ -n "${AUTHBIND_MADE:-}" ] && rm -f "$AUTHBIND_FILE"' EXIT
	rm -rf "$OUT"
	mkdir -p "$OUT/raw" "$OUT/logs"
	install -d -m 1777 "$OUT/profile"
	build "$WORK"
	write_files "$WORK"
	machine_info
	# authbind reads its permissions from the host's /etc: the file lets
	# uid nobody bind port 80, and is removed when the run ends.
	if [ ! -e "$AUTHBIND_FILE" ]; then
		install -m 0500 -o "$NOBODY" /dev/null "$AUTHBIND_FILE"
		AUTHBIND_MADE=1
	fi
	local start=$SECONDS
	unshare --net -- "$0" --inside "$WORK"
	printf 'seconds\t%s\n' "$((SECONDS - start))" >>"$OUT/machine.tsv"
	if [ -e "$OUT/profile/grant-child.unpinned.pprof" ]; then
		go tool pprof -top -nodecount=30 "$WORK/pgbench" "$OUT/profile/grant-child.unpinned.pprof" \
			>"$OUT/profile/grant-child.unpinned.txt" 2>/dev/null || true
	fi
	"$WORK/pgbench" report -out "$OUT" -md BENCHMARKS.md
	log "wrote BENCHMARKS.md"
}

# ---- inside the namespace ----

# as_nobody runs a command as uid and gid nobody, pinned when PIN is set.
as_nobody() {
	$PIN setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups -- "$@"
}

# start_server NAME CONFIG starts portgate serve as nobody and waits until
# it is ready. It sets SERVER_PID and SERVER_STATE.
start_server() {
	local name=$1 config=$2 i
	SERVER_STATE=$WORK/state/$name
	rm -rf "$SERVER_STATE"
	install -d -m 0700 -o $NOBODY -g $NOBODY "$SERVER_STATE"
	# A simple command, not a function, so that $! is the server itself.
	$PIN setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups -- \
		env RUNTIME_DIRECTORY="$SERVER_STATE" STATE_DIRECTORY="$SERVER_STATE" \
		"$WORK/portgate" serve --config "$config" --helper "$WORK/portgate-helper" \
		>"$OUT/logs/server-$name.log" 2>&1 &
	SERVER_PID=$!
	for i in $(seq 100); do
		grep -q '"server ready"' "$OUT/logs/server-$name.log" && return 0
		kill -0 $SERVER_PID 2>/dev/null || break
		sleep 0.1
	done
	cat "$OUT/logs/server-$name.log" >&2
	die "portgate serve ($name) did not become ready within 10s"
}

stop_pid() {
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

run_wrk() {
	local out=$1 url=$2
	$PIN wrk -t2 -c32 -d"${WRK_SECONDS}s" --latency "$url" >"$out" 2>&1 || die "wrk $url failed: $(cat "$out")"
}

# outdir DIR creates a results directory that nobody's processes may write to.
outdir() {
	mkdir -p "$1"
	chmod 1777 "$1"
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

bench_grant() {
	local dir=$OUT/raw/grant daemon s6
	outdir "$dir"
	log "grant ($PIN_NAME)"
	as_nobody "$WORK/pgbench" grant -mode listen -addr 127.0.0.1:8080 -n "$GRANTS" -out "$dir/listen.$PIN_NAME.txt"
	# The naive child has no privilege, so it binds the unprivileged port.
	as_nobody "$WORK/pgbench" grant -mode naive -addr 127.0.0.1:8080 -n "$GRANTS" -out "$dir/naive.$PIN_NAME.txt"
	as_nobody "$WORK/pgbench" grant -mode child -addr 127.0.0.1:80 -helper "$WORK/portgate-helper" \
		-n "$GRANTS" -out "$dir/child.$PIN_NAME.txt" 2>"$OUT/logs/grant-child.$PIN_NAME.log"
	as_nobody "$WORK/pgbench" grant -mode child -addr 127.0.0.1:80 -helper "$WORK/portgate-helper" \
		-n "$GRANTS" -out /dev/null -cpuprofile "$OUT/profile/grant-child.$PIN_NAME.pprof" 2>/dev/null
	[ "$PIN_NAME" = pinned ] && profile_grant

	rm -rf "$WORK/helperd"
	$PIN "$WORK/portgate-helper" daemon 2>"$OUT/logs/daemon.$PIN_NAME.log" &
	daemon=$!
	for _ in $(seq 50); do [ -S "$WORK/helperd/helper.sock" ] && break; sleep 0.1; done
	sleep 0.2
	printf 'daemon-idle-start.%s\t%s\n' "$PIN_NAME" "$(rss_kib $daemon)" >>"$OUT/raw/memory.tsv"
	as_nobody "$WORK/pgbench" grant -mode daemon -addr 127.0.0.1:80 -socket "$WORK/helperd/helper.sock" \
		-n "$GRANTS" -out "$dir/daemon.$PIN_NAME.txt"
	printf 'daemon-after-grants.%s\t%s\n' "$PIN_NAME" "$(rss_kib $daemon)" >>"$OUT/raw/memory.tsv"
	stop_pid $daemon

	# authbind forks a setuid helper for each bind, so it gets fewer rounds.
	as_nobody "$WORK/bindloop" 8080 200 "$GRANTS" >"$dir/c-bind.$PIN_NAME.txt"
	as_nobody authbind "$WORK/bindloop" 80 50 $((GRANTS / 5)) >"$dir/authbind.$PIN_NAME.txt"

	rm -rf "$WORK/s6"
	mkdir -p "$WORK/s6/rules/uid/0/env" "$WORK/s6/rules/uid/$NOBODY/env"
	touch "$WORK/s6/rules/uid/0/allow" "$WORK/s6/rules/uid/$NOBODY/allow"
	echo '^tcp:' >"$WORK/s6/rules/uid/0/env/S6_FDHOLDER_STORE_REGEX"
	echo '^tcp:' >"$WORK/s6/rules/uid/$NOBODY/env/S6_FDHOLDER_RETRIEVE_REGEX"
	chmod -R a+rX "$WORK/s6"
	$PIN s6-fdholder-daemon -i "$WORK/s6/rules" "$WORK/s6/s6.sock" 2>"$OUT/logs/s6.$PIN_NAME.log" &
	s6=$!
	for _ in $(seq 50); do [ -S "$WORK/s6/s6.sock" ] && break; sleep 0.1; done
	$PIN "$WORK/s6retrieve" store "$WORK/s6/s6.sock" tcp:127.0.0.1:81 81
	as_nobody "$WORK/s6retrieve" retrieve "$WORK/s6/s6.sock" tcp:127.0.0.1:81 200 "$GRANTS" >"$dir/s6.$PIN_NAME.txt"
	stop_pid $s6
}

# profile_grant records the child-helper grants with perf. On one CPU the
# CPU time of the client and the helper adds up to the grant's latency, so
# the split between them and their symbols show where the time goes.
profile_grant() {
	local data=$WORK/grant.perf
	perf record -q -F 2999 -g -C 0 -o "$data" -- $PIN setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups -- \
		"$WORK/pgbench" grant -mode child -addr 127.0.0.1:80 -helper "$WORK/portgate-helper" \
		-n "$GRANTS" -out /dev/null 2>/dev/null || { log "perf record failed: no profile"; return 0; }
	perf report -i "$data" --comm pgbench,portgate-helper --no-children --sort comm --stdio 2>/dev/null |
		grep -E '^ +[0-9]' >"$OUT/profile/grant-perf-comm.txt" || true
	perf report -i "$data" --comm pgbench,portgate-helper --children --sort comm,sym --stdio -g none --percent-limit 2 2>/dev/null |
		grep -E '^ +[0-9]' | head -60 >"$OUT/profile/grant-perf-symbols.txt" || true
}

bench_coldstart() {
	local dir=$OUT/raw/coldstart
	mkdir -p "$dir" "$WORK/state/cold"
	chmod 1777 "$WORK/state/cold"
	log "cold start ($PIN_NAME)"
	local args=(-n "$STARTS" -portgate "$WORK/portgate" -helper "$WORK/portgate-helper" -statedir "$WORK/state/cold")
	$PIN "$WORK/pgbench" coldstart "${args[@]}" -case direct -config "$WORK/etc/web8080.toml" -port 8080 -out "$dir/direct.$PIN_NAME.txt"
	$PIN "$WORK/pgbench" coldstart "${args[@]}" -case helper -config "$WORK/etc/web80.toml" -port 80 -out "$dir/helper.$PIN_NAME.txt"
	$PIN "$WORK/pgbench" coldstart "${args[@]}" -case activate -config "$WORK/etc/web80.toml" -port 80 -out "$dir/activate.$PIN_NAME.txt"
}

bench_datapath() {
	local dir=$OUT/raw/datapath rep pid
	outdir "$dir"
	log "data path ($PIN_NAME)"
	# helper and direct: one server with both sockets, loaded in turns,
	# PAIRS times, each pair in the other order than the one before.
	start_server both "$WORK/etc/both.toml"
	for rep in $(seq "$PAIRS"); do
		if [ $((rep % 2)) = 1 ]; then
			run_wrk "$dir/helper.$PIN_NAME.$rep.txt" http://127.0.0.1:80/index.html
			run_wrk "$dir/direct.$PIN_NAME.$rep.txt" http://127.0.0.1:8080/index.html
		else
			run_wrk "$dir/direct.$PIN_NAME.$rep.txt" http://127.0.0.1:8080/index.html
			run_wrk "$dir/helper.$PIN_NAME.$rep.txt" http://127.0.0.1:80/index.html
		fi
	done
	if [ "$PIN_NAME" = unpinned ]; then
		printf 'server-idle\t%s\n' "$(rss_kib $SERVER_PID)" >>"$OUT/raw/memory.tsv"
		printf 'helper-child-idle\t%s\n' "$(rss_kib "$(pgrep -P $SERVER_PID | head -1)")" >>"$OUT/raw/memory.tsv"
	fi
	stop_pid $SERVER_PID

	for rep in $(seq "$REPS"); do
		# nft and socat: a server on 8080 alone, so that port 80 is free.
		start_server web8080 "$WORK/etc/web8080.toml"
		run_wrk "$dir/direct2.$PIN_NAME.$rep.txt" http://127.0.0.1:8080/index.html
		nft add table ip pgbench
		nft add chain ip pgbench out '{ type nat hook output priority -100; }'
		nft add rule ip pgbench out ip daddr 127.0.0.1 tcp dport 80 redirect to :8080
		run_wrk "$dir/nft.$PIN_NAME.$rep.txt" http://127.0.0.1:80/index.html
		nft delete table ip pgbench
		$PIN socat TCP4-LISTEN:80,bind=127.0.0.1,reuseaddr,fork,backlog=1024 TCP4:127.0.0.1:8080 &
		pid=$!
		sleep 0.2
		run_wrk "$dir/socat.$PIN_NAME.$rep.txt" http://127.0.0.1:80/index.html
		stop_pid $pid
		stop_pid $SERVER_PID
	done
}

bench_churn() {
	local dir=$OUT/raw/churn rep churner
	outdir "$dir"
	log "churn ($PIN_NAME)"
	start_server churn "$WORK/etc/web80.toml"
	for rep in $(seq "$CHURN_ROUNDS"); do
		run_wrk "$dir/quiet.$PIN_NAME.$rep.txt" http://127.0.0.1:80/index.html
		as_nobody "$WORK/pgbench" churn -socket "$SERVER_STATE/manager.sock" -duration "${WRK_SECONDS}s" \
			-root "$WORK/www" -out "$dir/churn.$PIN_NAME.$rep.json" &
		churner=$!
		run_wrk "$dir/busy.$PIN_NAME.$rep.txt" http://127.0.0.1:80/index.html
		wait $churner || die "pgbench churn failed"

		# The same at a fixed rate that leaves the CPUs partly idle.
		$PIN "$WORK/pgbench" pace -url http://127.0.0.1:80/index.html -rate "$PACE_RATE" \
			-duration "${WRK_SECONDS}s" -out "$dir/pace-quiet.$PIN_NAME.$rep.json"
		as_nobody "$WORK/pgbench" churn -socket "$SERVER_STATE/manager.sock" -duration "${WRK_SECONDS}s" \
			-rate "$CHURN_RATE" -root "$WORK/www" -out "$dir/churn-paced.$PIN_NAME.$rep.json" &
		churner=$!
		$PIN "$WORK/pgbench" pace -url http://127.0.0.1:80/index.html -rate "$PACE_RATE" \
			-duration "${WRK_SECONDS}s" -out "$dir/pace-busy.$PIN_NAME.$rep.json"
		wait $churner || die "pgbench churn failed"
	done
	[ "$PIN_NAME" = unpinned ] && profile_churn
	stop_pid $SERVER_PID
}

# profile_churn records one more churn round under load with perf, across
# both CPUs, and keeps the CPU share of each process and the server's
# symbols.
profile_churn() {
	local data=$WORK/churn.perf helper wrk_pid churner
	helper=$(pgrep -P "$SERVER_PID" | head -1)
	wrk -t2 -c32 -d"${WRK_SECONDS}s" http://127.0.0.1:80/index.html >/dev/null 2>&1 &
	wrk_pid=$!
	setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups -- "$WORK/pgbench" churn \
		-socket "$SERVER_STATE/manager.sock" -duration "${WRK_SECONDS}s" -root "$WORK/www" -out /dev/null &
	churner=$!
	perf record -q -F 999 -g -a -o "$data" -- sleep "$WRK_SECONDS" 2>/dev/null ||
		log "perf record failed: no churn profile"
	wait $wrk_pid $churner || true
	[ -s "$data" ] || return 0
	perf report -i "$data" --pid "$SERVER_PID,$helper,$wrk_pid,$churner" --no-children --sort comm --stdio 2>/dev/null |
		grep -E '^ +[0-9]' >"$OUT/profile/churn-perf-pid.txt" || true
	perf report -i "$data" --pid "$SERVER_PID" --children --sort sym --stdio -g none --percent-limit 3 2>/dev/null |
		grep -E '^ +[0-9]' | grep -v '\[k\]' | head -40 >"$OUT/profile/churn-perf-server.txt" || true
}

bench_scale() {
	local dir=$OUT/raw/scale n
	outdir "$dir"
	log "scale ($PIN_NAME)"
	# Ports below 20000 are privileged in this namespace for this section,
	# so 10000-19999 need the helper and 20000-29999 do not.
	sysctl -qw net.ipv4.ip_unprivileged_port_start=20000
	for n in 100 1000 10000; do
		as_nobody "$WORK/pgbench" scale -mode direct -n $n -first 20000 -out "$dir/direct.$n.$PIN_NAME.json"
		as_nobody "$WORK/pgbench" scale -mode helper -n $n -first 10000 -helper "$WORK/portgate-helper" \
			-out "$dir/helper.$n.$PIN_NAME.json" 2>/dev/null
	done
	sysctl -qw net.ipv4.ip_unprivileged_port_start=1024
}

bench_proxy() {
	local dir=$OUT/raw/proxy rep size file proxyd socat backend proxy
	outdir "$dir"
	log "proxy ($PIN_NAME)"
	start_server web8080 "$WORK/etc/web8080.toml"
	backend=$SERVER_PID
	start_server proxy "$WORK/etc/proxy.toml"
	proxy=$SERVER_PID
	$PIN socat TCP4-LISTEN:9002,bind=127.0.0.1,reuseaddr,fork,backlog=1024 TCP4:127.0.0.1:8080 &
	socat=$!
	for rep in $(seq "$REPS"); do
		# A fresh systemd-socket-proxyd each round: one once stopped
		# listening in the middle of a run, with nothing in its log.
		$PIN systemd-socket-activate -l 127.0.0.1:9003 /lib/systemd/systemd-socket-proxyd 127.0.0.1:8080 \
			2>>"$OUT/logs/proxyd.$PIN_NAME.log" &
		proxyd=$!
		sleep 0.2
		for size in small big; do
			file=index.html
			[ $size = big ] && file=big.bin
			run_wrk "$dir/direct.$size.$PIN_NAME.$rep.txt" "http://127.0.0.1:8080/$file"
			run_wrk "$dir/portgate.$size.$PIN_NAME.$rep.txt" "http://127.0.0.1:9001/$file"
			run_wrk "$dir/socat.$size.$PIN_NAME.$rep.txt" "http://127.0.0.1:9002/$file"
			run_wrk "$dir/proxyd.$size.$PIN_NAME.$rep.txt" "http://127.0.0.1:9003/$file"
		done
		stop_pid $proxyd
	done
	stop_pid $socat
	stop_pid $proxy
	stop_pid $backend
}

# cpu_ticks prints the time (in clock ticks) since boot, the busy time of
# all CPUs, and the CPU time of this shell with all the children it has
# waited for, which covers every process the benchmark started.
cpu_ticks() {
	local busy self
	busy=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat)
	self=$(sed 's/.*) //' /proc/$$/stat | awk '{print $12 + $13 + $14 + $15}')
	printf '%s %s %s\n' "$(awk '{printf "%d", $1 * 100}' /proc/uptime)" "$busy" "$self"
}

# other_cpu_percent BEFORE AFTER prints the share of both CPUs, in percent,
# that went elsewhere between two cpu_ticks readings: to processes outside
# the benchmark, kernel threads, and the hypervisor (steal time).
other_cpu_percent() {
	echo "$1 $2" | awk -v cpus="$(nproc)" '{
		wall = ($4 - $1) * cpus; other = ($5 - $2) - ($6 - $3)
		if (wall <= 0) { print "?"; exit }
		if (other < 0) other = 0
		printf "%d%%", 100 * other / wall
	}'
}

inside() {
	WORK=$1
	# Stop whatever a failed step left running in the namespace.
	trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
	ip link set lo up
	for _ in $(seq 50); do ip -4 addr show dev lo | grep -q 127.0.0.1/8 && break; sleep 0.1; done
	local pin before sections=${SECTIONS:-grant coldstart datapath churn scale proxy}
	for pin in unpinned pinned; do
		PIN_NAME=$pin
		if [ $pin = pinned ]; then
			PIN="taskset -c 0"
			unset GOMAXPROCS
		else
			PIN=""
			export GOMAXPROCS=2
		fi
		for s in $sections; do
			before=$(cpu_ticks)
			"bench_$s"
			# Other processes of the host share the CPUs: keep their share.
			printf '%s %s\t%s\n' "$s" "$PIN_NAME" "$(other_cpu_percent "$before" "$(cpu_ticks)")" >>"$OUT/raw/load.tsv"
		done
	done
}

cd "$(dirname "$0")/.."
OUT=$PWD/bench/out
if [ "${1:-}" = --inside ]; then
	inside "$2"
else
	outside
fi
