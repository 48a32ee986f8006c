# portgate build, install and test targets. Run install, run and test as root.

GO        ?= go
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
HELPERDIR ?= $(PREFIX)/libexec/portgate
POLICY    ?= /etc/portgate/helper.toml
USER_NAME ?= portgate
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

# The helper's capability: bind privileged ports, plus cap_setpcap, which it
# uses once at start to empty its bounding set and then drops. Permitted
# only (=p): the helper raises the capability itself, and a file without the
# effective bit never makes exec fail when a container empties the bounding
# set.
HELPER_CAPS ?= cap_net_bind_service,cap_setpcap=p

LDFLAGS = -s -w \
	-X main.version=$(VERSION) \
	-X github.com/portgate/portgate/server.DefaultHelperPath=$(HELPERDIR)/portgate-helper \
	-X github.com/portgate/portgate/helper.PolicyPath=$(POLICY)

# Every target OS and architecture the code must compile for.
CROSS = linux/amd64 linux/arm64 linux/ppc64le linux/s390x freebsd/amd64 \
	openbsd/amd64 netbsd/amd64 darwin/arm64 darwin/amd64 solaris/amd64 \
	illumos/amd64 aix/ppc64

.PHONY: all build install run test lint unit cross fuzz clean bench

all: build

# The helper must be built without cgo: it changes the capabilities of
# every thread with syscall.AllThreadsSyscall, which cgo binaries lack.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/portgate ./cmd/portgate
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/portgate-helper ./cmd/portgate-helper

install: build
	@test "$$(id -u)" = 0 || { echo "make install: run as root"; exit 1; }
	@command -v setcap >/dev/null || { command -v apt-get >/dev/null && apt-get install -y libcap2-bin; } || \
		{ echo "make install: setcap not found: install libcap2-bin"; exit 1; }
	id -u $(USER_NAME) >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin $(USER_NAME)
	install -D -m 0755 bin/portgate $(DESTDIR)$(BINDIR)/portgate
	install -D -m 0755 bin/portgate-helper $(DESTDIR)$(HELPERDIR)/portgate-helper
	setcap $(HELPER_CAPS) $(DESTDIR)$(HELPERDIR)/portgate-helper
	getcap $(DESTDIR)$(HELPERDIR)/portgate-helper | grep -q cap_net_bind_service || \
		{ echo "make install: the capability did not stick on $(HELPERDIR)/portgate-helper"; exit 1; }
	install -d -m 0755 $(dir $(DESTDIR)$(POLICY))
	test -e $(DESTDIR)$(POLICY) || install -m 0644 packaging/helper.toml $(DESTDIR)$(POLICY)

# Build, install, and serve the welcome page on port 80 as $(USER_NAME)
# in the foreground, with the Local Manager on /run/portgate/manager.sock
# for portgate ctl. Reach it with curl http://localhost/; stop it with Ctrl-C.
run: install
	install -d -o $(USER_NAME) -m 0755 /run/portgate
	$(BINDIR)/portgate serve --user $(USER_NAME)

test: lint unit fuzz cross

lint:
	@out=$$(gofmt -l .); test -z "$$out" || { echo "gofmt needed on:"; echo "$$out"; exit 1; }
	$(GO) vet ./...
	staticcheck ./...

# Unit, fuzz-corpus and end-to-end tests. The end-to-end tests need root;
# without it they skip, and with CI=true they fail instead.
unit:
	$(GO) test -count=1 -timeout 20m ./...

cross:
	@for t in $(CROSS); do \
		echo "cross-compile $$t"; \
		GOOS=$${t%/*} GOARCH=$${t#*/} CGO_ENABLED=0 $(GO) build ./... || exit 1; \
	done

# A short fuzz run of every decoder of untrusted input: the helper's wire
# format, its policy and the Local Manager's request bodies. FUZZTIME is per
# target. Minimizing a new input may take the fuzzer's default of a minute,
# which would use up a short run, so FUZZMINIMIZE bounds it. The corpus in
# each package's testdata/fuzz also runs with every go test.
FUZZTIME ?= 15s
FUZZMINIMIZE ?= 2s
FUZZ_TARGETS = protocol:FuzzDecode helper:FuzzParsePolicy server:FuzzDecodeService
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} in ./$${t%%:*} for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) ./$${t%%:*} || exit 1; \
	done

clean:
	rm -rf bin

# Benchmarks against in-process binds and the peers that grant or pass
# privileged sockets; writes BENCHMARKS.md. Needs root and takes about
# eight minutes. See bench/run.sh.
bench:
	bash bench/run.sh

# Packages. The binaries of a package look for the helper and the policy
# at the package's paths. PKG_VERSION must start with a digit. Every
# timestamp comes from SOURCE_DATE_EPOCH, the time of the last commit, and
# the binaries are built without VCS stamps, so two builds of one commit
# are identical.
PKG_VERSION ?= 0.1.0
PKG_ARCH ?= $(shell $(GO) env GOARCH)
DIST ?= dist
NFPM ?= nfpm
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
PKG_BUILD = CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags '$(LDFLAGS)'

.PHONY: package-binaries deb rpm

package-binaries deb rpm: VERSION = $(PKG_VERSION)
package-binaries deb rpm: BINDIR = /usr/bin
package-binaries deb rpm: HELPERDIR = /usr/libexec/portgate
package-binaries deb rpm: POLICY = /etc/portgate/helper.toml

package-binaries:
	$(PKG_BUILD) -o $(DIST)/bin/portgate ./cmd/portgate
	$(PKG_BUILD) -o $(DIST)/bin/portgate-helper ./cmd/portgate-helper

# The Debian package, built with nfpm (go install
# github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0).
deb: package-binaries
	GOARCH=$(PKG_ARCH) PKG_VERSION=$(PKG_VERSION) DIST=$(DIST) SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) \
		$(NFPM) package --config packaging/nfpm.yaml --packager deb --target $(DIST)/

# The RPM package, built with rpmbuild from packaging/rpm/portgate.spec.
rpm: package-binaries
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) rpmbuild -bb --quiet \
		--define "_topdir $(abspath $(DIST))/rpmbuild" \
		--define "_rpmdir $(abspath $(DIST))" \
		--define "srcdir $(CURDIR)" --define "pkg_bin $(abspath $(DIST))/bin" \
		--define "pkg_version $(PKG_VERSION)" \
		--define "use_source_date_epoch_as_buildtime 1" \
		--define "clamp_mtime_to_source_date_epoch 1" \
		--define "_buildhost reproducible" \
		--target $(shell rpm --eval '%{_arch}' 2>/dev/null || echo x86_64) \
		packaging/rpm/portgate.spec
