# libshadow — see README.md. `make` builds release artifacts into target/release/.
PREFIX ?= /usr/local
CARGO ?= cargo
REL := target/release

.PHONY: all build test test-deps demo bench bench-quick install clean conformance

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
	@{ ls /usr/lib/postgresql/*/bin/pg_amcheck && ls /usr/lib/*/libjemalloc.so.2 /usr/lib/*/libtcmalloc_minimal.so.4 /usr/lib/*/libmimalloc.so.2; } >/dev/null 2>&1 || { \
	  echo "installing postgresql, jemalloc, tcmalloc, mimalloc (many processes on one set; other mallocs)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-contrib \
	    libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0 >/dev/null; }

test: build test-deps
	$(CARGO) test --release --workspace --exclude shadow-tests
	$(MAKE) -C c-tests
	c-tests/run.sh --lib $(CURDIR)/$(REL)/libshadow.so --ctl $(CURDIR)/$(REL)/shadowctl
	LIBSHADOW=$(CURDIR)/$(REL)/libshadow.so $(CARGO) test --release -p shadow-tests -- --test-threads=2
	$(MAKE) bench-quick

# The file-system world's own suites (pjdfstest, fsx, fsstress) under the prefix, each run
# compared with a native run and followed by a comparison of the members. Needs root.
THIRD_PARTY ?= ../shared/third-party
conformance: build
	tests/scripts/conformance.sh --suite $(THIRD_PARTY)

demo: build
	sh ctl/demo.sh $(REL)

bench: build
	$(MAKE) -C bench run

bench-quick: build
	$(MAKE) -C bench quick

install: build
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(REL)/libshadow.so $(DESTDIR)$(PREFIX)/lib/libshadow.so
	install -m 755 $(REL)/shadowctl $(DESTDIR)$(PREFIX)/bin/shadowctl
	sed 's|^LIBSHADOW_DEFAULT=.*|LIBSHADOW_DEFAULT=$(PREFIX)/lib/libshadow.so|' ctl/shadow-run > $(DESTDIR)$(PREFIX)/bin/shadow-run
	chmod 755 $(DESTDIR)$(PREFIX)/bin/shadow-run

clean:
	$(CARGO) clean
	-$(MAKE) -C c-tests clean
	-$(MAKE) -C bench clean
