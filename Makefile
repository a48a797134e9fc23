# libshadow — see README.md. `make` builds release artifacts into target/release/.
PREFIX ?= /usr/local
CARGO ?= cargo
REL := target/release

.PHONY: all build test test-deps demo bench bench-quick install install-files package package-files clean conformance

all: build

build:
	$(CARGO) build --release --workspace
	install -m 755 ctl/shadow-run $(REL)/shadow-run

# Tools the tests run under the shim that a fresh machine may lack.
test-deps:
	@command -v sqlite3 >/dev/null 2>&1 || { echo "installing sqlite3 (needed by the crash test)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sqlite3 >/dev/null; }
	@{ command -v sshfs >/dev/null 2>&1 && test -x /usr/sbin/sshd; } || { \
	  echo "installing openssh-server sshfs (needed by the network member test)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    openssh-server sshfs >/dev/null; }
	@command -v strace >/dev/null 2>&1 || { echo "installing strace (the journal test traces system calls)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null; }
	@{ command -v rsync && command -v autoreconf && command -v libtoolize; } >/dev/null 2>&1 || { \
	  echo "installing rsync autoconf automake libtool (real programs the path tests run under the prefix)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rsync autoconf automake libtool >/dev/null; }
	@command -v tclsh >/dev/null 2>&1 || { echo "installing tcl (its file copy/delete walk trees with glibc's fts)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcl >/dev/null; }
	@command -v setfacl >/dev/null 2>&1 || { echo "installing acl (setfacl: ACLs a member brought back must get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq acl >/dev/null; }
	@python3 -c 'import prometheus_client' 2>/dev/null || { echo "installing prometheus_client (the metrics test parses with it)"; \
	  python3 -m pip install -q prometheus_client; }
	@{ ls /usr/lib/postgresql/*/bin/pg_amcheck && ls /usr/lib/*/libjemalloc.so.2 /usr/lib/*/libtcmalloc_minimal.so.4 /usr/lib/*/libmimalloc.so.2; } >/dev/null 2>&1 || { \
	  echo "installing postgresql, jemalloc, tcmalloc, mimalloc (many processes on one set; other mallocs)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-contrib \
	    libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0 >/dev/null; }
	@{ command -v mariadbd && command -v redis-server; } >/dev/null 2>&1 || { \
	  echo "installing mariadb-server, redis-server (databases.rs runs them under the prefix)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server redis-server >/dev/null; }

test: build test-deps
	$(CARGO) test --release --workspace --exclude shadow-tests
	$(MAKE) -C c-tests
	c-tests/run.sh -j 2 --lib $(CURDIR)/$(REL)/libshadow.so --ctl $(CURDIR)/$(REL)/shadowctl
	LIBSHADOW=$(CURDIR)/$(REL)/libshadow.so $(CARGO) test --release -p shadow-tests -- --test-threads=2
	# Again with write-behind on (config write_behind): every C test, the crash test, the
	# member-failure tests and the databases.
	c-tests/run.sh -j 2 --write-behind --lib $(CURDIR)/$(REL)/libshadow.so --ctl $(CURDIR)/$(REL)/shadowctl
	SHADOW_TEST_WRITE_BEHIND=1 LIBSHADOW=$(CURDIR)/$(REL)/libshadow.so $(CARGO) test --release -p shadow-tests --test crash --test failure --test databases -- --test-threads=2
	# The benchmark as a smoke test (each workload once, contents and members checked):
	# `make bench-quick` runs three repetitions, `make bench` the full set.
	$(MAKE) bench-quick RUNFLAGS=--reps=1

# The file-system world's own suites (pjdfstest, fsx, fsstress) under the prefix, each run
# compared with a native run and followed by a comparison of the members. Needs root.
# The exercisers run again with write-behind (half a minute; the whole set of suites with
# write-behind, pjdfstest included, is `tests/scripts/conformance.sh --write-behind`).
THIRD_PARTY ?= ../shared/third-party
conformance: build
	tests/scripts/conformance.sh --suite $(THIRD_PARTY)
	tests/scripts/conformance.sh --suite $(THIRD_PARTY) --write-behind fsx fsstress

demo: build
	sh ctl/demo.sh $(REL)

bench: build
	$(MAKE) -C bench run

bench-quick: build
	$(MAKE) -C bench quick

# The library, both programs, their man pages (shadowctl(8), shadow-run(1), shadow.toml(5))
# and shell completions (made by shadowctl from the definitions --help prints), and the
# systemd unit for `shadowctl watch`.
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system
install: build install-files
install-files:
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSTEMD_UNIT_DIR)
	install -m 755 $(REL)/libshadow.so $(DESTDIR)$(PREFIX)/lib/libshadow.so
	install -m 755 $(REL)/shadowctl $(DESTDIR)$(PREFIX)/bin/shadowctl
	sed 's|^LIBSHADOW_DEFAULT=.*|LIBSHADOW_DEFAULT=$(PREFIX)/lib/libshadow.so|' ctl/shadow-run > $(DESTDIR)$(PREFIX)/bin/shadow-run
	chmod 755 $(DESTDIR)$(PREFIX)/bin/shadow-run
	$(REL)/shadowctl generate $(DESTDIR)$(PREFIX)/share
	sed 's|/usr/local/bin/shadowctl|$(PREFIX)/bin/shadowctl|' ctl/shadowctl-watch@.service > $(DESTDIR)$(SYSTEMD_UNIT_DIR)/shadowctl-watch@.service

# A Debian package of what `make install PREFIX=/usr` installs, built with dpkg-deb (man
# pages compressed as Debian does): target/libshadow_VERSION_ARCH.deb.
PKG_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
PKG_ROOT := $(CURDIR)/target/deb
package: build package-files
package-files:
	rm -rf $(PKG_ROOT)
	$(MAKE) --no-print-directory install-files DESTDIR=$(PKG_ROOT) PREFIX=/usr
	strip --strip-debug $(PKG_ROOT)/usr/bin/shadowctl $(PKG_ROOT)/usr/lib/libshadow.so
	find $(PKG_ROOT)/usr/share/man -type f -exec gzip -9n {} +
	install -d $(PKG_ROOT)/DEBIAN
	printf 'Package: libshadow\nVersion: %s\nArchitecture: %s\nMaintainer: libshadow developers <libshadow@localhost>\nDepends: libc6\nSection: admin\nPriority: optional\nDescription: file-level mirroring for unmodified programs\n LD_PRELOAD library, shadowctl and shadow-run: everything a program writes under\n a virtual prefix lands in two member directories.\n' \
	  $(PKG_VERSION) $$(dpkg --print-architecture) > $(PKG_ROOT)/DEBIAN/control
	dpkg-deb --root-owner-group --build $(PKG_ROOT) target/libshadow_$(PKG_VERSION)_$$(dpkg --print-architecture).deb

clean:
	$(CARGO) clean
	-$(MAKE) -C c-tests clean
	-$(MAKE) -C bench clean
