# nsbox: build the C module, the busybox rootfs, run the demo, the specs and the benchmarks.
LUA      ?= lua5.4
CC       ?= cc
PREFIX   ?= /usr/local
LUA_INC  ?= $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
LUAC     ?= luac5.4
LUA_BIN  ?= $(shell command -v $(LUA) || echo /usr/bin/$(LUA))
CFLAGS   ?= -O2 -g
# override: luarocks passes its own CFLAGS on the command line
override CFLAGS += -std=c11 -Wall -Wextra -Werror -fPIC $(LUA_INC)
LIBS     := -lmnl
ROOTFS   ?= build/rootfs
BUSYBOX  ?= /bin/busybox
LMOD     ?= $(PREFIX)/share/lua/5.4
CMOD     ?= $(PREFIX)/lib/lua/5.4
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
# Debian packages. The demo's: to build nsbox and run a container on the busybox rootfs
# (lua-cjson: the JSON of the state entries and `nsbox ps --json`, and the specs').
# The tests' on top: busted and the real clients the specs drive, luarocks (the install
# spec), strace (a spec traces a set-up's syscalls), uidmap (newuidmap for id ranges), and
# the docs' tools (Debian's ldoc runs under lua5.1 only; `man -l` needs man-db), nft (the
# specs read nsbox's table with it), dnsmasq (the specs' "internet" serves DNS) and passt
# (pasta: rootless networking, network mode pasta).
DEMO_DEBS := gcc libc6-dev make pkg-config lua5.4 liblua5.4-dev libmnl-dev libnftnl-dev libseccomp-dev \
             busybox-static lua-cjson
TEST_DEBS := lua-busted lua-check iproute2 procps util-linux luarocks lua5.1 lua-ldoc \
             lua-markdown groff-base man-db strace uidmap debootstrap nftables dnsmasq-base passt
DEBS     ?= $(DEMO_DEBS) $(TEST_DEBS)

# nsbox.core, and nsbox.rtnl (core.rtnl, loaded on first use: only it needs libmnl)
RTNL_SRCS := csrc/rtnl.c csrc/rtnl_addr.c csrc/rtnl_neigh.c csrc/nl.c
# nsbox.nft: nsbox's nftables table (masquerade), loaded on first use (only it needs libnftnl)
NFT_SRCS := csrc/nft.c csrc/nft_ports.c csrc/nft_antispoof.c csrc/conntrack.c csrc/nft_lua.c
SRCS     := $(filter-out csrc/nsbox-netns.c $(RTNL_SRCS) $(NFT_SRCS) csrc/scmp.c,$(wildcard csrc/*.c))
OBJS     := $(SRCS:csrc/%.c=build/obj/%.o)
# the rules it shares with nsbox.core (interface names, addresses) are linked into both
RTNL_OBJS := $(RTNL_SRCS:csrc/%.c=build/obj/%.o) build/obj/common.o build/obj/addr.o build/obj/ifname.o
SO       := lua/nsbox/core.so
SO_RTNL  := lua/nsbox/rtnl.so
SO_NFT   := lua/nsbox/nft.so
NFT_OBJS := $(NFT_SRCS:csrc/%.c=build/obj/%.o) build/obj/nl.o build/obj/common.o build/obj/addr.o build/obj/starttime.o
NFT_LIBS ?= -lnftnl -lmnl
# nsbox.scmp: seccomp profiles compiled to BPF, loaded on first use (only it needs libseccomp)
SO_SCMP  := lua/nsbox/scmp.so
SECCOMP_LIBS ?= -lseccomp
# The Lua modules precompiled (luac, line numbers kept): what is installed. Loading
# them skips the parser, about 2.7 ms of a process that starts one container.
# The default seccomp filter, compiled by nsbox.seccomp at build time: a start then
# loads it without libseccomp (compiling it costs a new process about 25 ms).
SECCOMP_DEFAULT := lua/nsbox/seccomp_default.lua
BC       := $(patsubst lua/%,build/lua/%,$(sort $(wildcard lua/nsbox/*.lua) $(SECCOMP_DEFAULT)))
RUNENV   := LUA_PATH='$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;' LUA_CPATH='$(CURDIR)/lua/?.so;;'

SHELL    := /bin/bash

.PHONY: all deps deps-demo lint rootfs debian-image test vmtest demo bench install clean helper install-helper doc
all: $(SO) $(SO_RTNL) $(SO_NFT) $(SO_SCMP) $(SECCOMP_DEFAULT) $(BC)

build/lua/nsbox/%.lua: lua/nsbox/%.lua
	@mkdir -p $(@D)
	$(LUAC) -o $@ $<

build/obj/%.o: csrc/%.c $(wildcard csrc/*.h csrc/init/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(SO): $(OBJS)
	$(CC) -shared -o $@ $(OBJS)

# nsbox-init (csrc/init/): the container side's exec stub and PID 1, static and
# without a libc, embedded in nsbox.core (csrc/stub.c, .incbin) and exec'd from a
# sealed memfd. Its own flags: none of luarocks' CFLAGS (-fPIC, the Lua headers).
INIT_BIN    := build/init/nsbox-init
INIT_CFLAGS ?= -Os
$(INIT_BIN): csrc/init/nsbox-init.c csrc/init/sys.h csrc/init/signals.h
	@mkdir -p $(@D)
	$(CC) $(INIT_CFLAGS) -std=c11 -Wall -Wextra -Werror -static -nostdlib -ffreestanding -fno-builtin \
	  -fno-stack-protector -fno-pie -no-pie -fno-asynchronous-unwind-tables -fno-unwind-tables \
	  -Wl,--gc-sections -Wl,--build-id=none -Wl,-z,noexecstack -s -o $@ $<

build/obj/stub.o: csrc/stub.c $(INIT_BIN) $(wildcard csrc/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DNSBOX_INIT_BIN='"$(CURDIR)/$(INIT_BIN)"' -c -o $@ $<

$(SO_RTNL): $(RTNL_OBJS)
	$(CC) -shared -o $@ $(RTNL_OBJS) $(LIBS)

$(SO_NFT): $(NFT_OBJS)
	$(CC) -shared -o $@ $(NFT_OBJS) $(NFT_LIBS)

$(SECCOMP_DEFAULT): lua/nsbox/seccomp.lua $(SO) $(SO_SCMP)
	LUA_PATH='$(CURDIR)/lua/?.lua;;' LUA_CPATH='$(CURDIR)/lua/?.so;;' $(LUA) -e \
	  'io.write(require("nsbox.seccomp").generate())' > $@.tmp && mv $@.tmp $@

$(SO_SCMP): build/obj/scmp.o build/obj/common.o
	$(CC) -shared -o $@ build/obj/scmp.o build/obj/common.o $(SECCOMP_LIBS)

# Install the missing Debian packages of $(DEBS): as root with apt-get (its lists are
# updated first only when one is not known yet); otherwise say the line to run.
deps:
	@missing=""; for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" -ne 0 ]; then \
	    echo "nsbox needs these Debian packages:$$missing" >&2; \
	    echo "  sudo apt-get install$$missing" >&2; exit 1; fi; \
	  echo "installing:$$missing"; \
	  { apt-cache show $$missing >/dev/null 2>&1 || apt-get update -qq; } && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

deps-demo:
	@$(MAKE) -s deps DEBS="$(DEMO_DEBS)"

# A Debian 12 minbase tree (debootstrap, from the mirror apt uses here), for the specs that
# want a real distribution (dpkg, useradd, su; python3 for getfqdn); built once and kept in build/debian.
DEBIAN   ?= build/debian
debian-image: $(DEBIAN)/usr/bin/python3
$(DEBIAN)/usr/bin/python3:
	@$(MAKE) -s deps DEBS=debootstrap
	rm -rf $(DEBIAN).tmp
	mirror=$$(awk '/^URIs:/ {print $$2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null); \
	  debootstrap --variant=minbase --include=python3-minimal bookworm $(DEBIAN).tmp $$mirror > build/debootstrap.log 2>&1 || \
	  { tail -20 build/debootstrap.log; exit 1; }
	rm -rf $(DEBIAN) && mv $(DEBIAN).tmp $(DEBIAN)

# A busybox rootfs from Debian's busybox-static: applet links, passwd/group, readable by all.
rootfs: $(ROOTFS)/bin/busybox
$(ROOTFS)/bin/busybox: $(BUSYBOX)
	rm -rf $(ROOTFS) && mkdir -p $(ROOTFS)
	cd $(ROOTFS) && mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev tmp root home run var/run
	cp $(BUSYBOX) $(ROOTFS)/bin/busybox
	for a in $$($(BUSYBOX) --list-full); do \
	  [ -e $(ROOTFS)/$$a ] || [ -L $(ROOTFS)/$$a ] || ln -s /bin/busybox $(ROOTFS)/$$a; done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > $(ROOTFS)/etc/passwd
	printf 'root:x:0:\nnogroup:x:65534:\n' > $(ROOTFS)/etc/group
	chmod 1777 $(ROOTFS)/tmp
	chmod -R a+rX $(ROOTFS)

# The specs, as TAP in build/test.tap (root runs them all; CI counts the results from it),
# then the VM's (vmtest, below) unless VMTEST=0.
VMTEST   ?= 1
# (the Debian image as root only: debootstrap needs it, and so do the specs that use it)
test: deps $(SO) $(SO_RTNL) $(SO_NFT) $(SO_SCMP) $(SECCOMP_DEFAULT) rootfs $(if $(filter 0,$(shell id -u)),debian-image)
	@mkdir -p build && rm -f build/vmtest.tap build/lint.tap
	set -o pipefail; $(MAKE) --no-print-directory lint; lint=$$?; \
	$(RUNENV) $(LUA) /usr/bin/busted --lua=$(LUA) -o TAP spec 2>&1 | tee build/test.tap; \
	st=$$?; [ "$(VMTEST)" = 0 ] || $(MAKE) --no-print-directory vmtest || st=1; [ $$lint = 0 ] || st=1; exit $$st

# The core specs on Debian 12's stock kernel (linux-image-amd64, downloaded into build/vm,
# never installed) in a qemu VM (tcg, no network, cgroup v2 only): TAP in build/vmtest.tap.
# VM_DEBS: qemu; the image copies the rest from this machine's DEBS (spec/vm/build-initramfs.sh).
VM_DEBS  := qemu-system-x86
VMTEST_SPECS ?= spec/core_spec.lua spec/container_spec.lua spec/unprivileged_spec.lua \
            spec/network_spec.lua spec/rtnl_spec.lua spec/hardening_spec.lua spec/recipe_spec.lua \
            spec/failure_spec.lua spec/netns_helper_spec.lua spec/channel_spec.lua \
            spec/rootfs_race_spec.lua spec/ids_spec.lua spec/session_spec.lua spec/pid1_spec.lua \
            spec/net_guard_spec.lua spec/image_spec.lua spec/etc_spec.lua spec/users_spec.lua \
            spec/resources_spec.lua spec/seccomp_spec.lua spec/egress_spec.lua \
            spec/ports_spec.lua spec/names_spec.lua spec/pasta_spec.lua spec/antispoof_spec.lua
vmtest: deps all rootfs
	@$(MAKE) -s deps DEBS="$(VM_DEBS)"
	spec/vm/run.sh $(VMTEST_SPECS)

# luacheck over every Lua file (.luacheckrc), as TAP in build/lint.tap: part of make test.
lint:
	@mkdir -p build
	@if out=$$(luacheck --no-color -q lua spec bench examples rockspec 2>&1); then printf '1..1\nok 1 - luacheck: clean\n'; \
	else printf '1..1\nnot ok 1 - luacheck\n'; printf '%s\n' "$$out" | sed 's/^/# /'; fi | tee build/lint.tap
	@grep -q '^ok' build/lint.tap

demo: deps-demo
	@$(MAKE) -s $(SO) $(SO_RTNL) $(SO_NFT) $(SO_SCMP) $(SECCOMP_DEFAULT) rootfs
	$(LUA) examples/ns-process.lua

# Side by side with the C floor, unshare, bwrap, crun and runc; writes bench/RESULTS.md (root).
BENCH_DEBS := hyperfine bubblewrap crun runc time python3
bench: deps $(SO) $(SO_RTNL) $(SO_NFT) $(SO_SCMP) $(SECCOMP_DEFAULT) rootfs build/bench/clock.so
	@$(MAKE) -s deps DEBS="$(BENCH_DEBS)"
	$(RUNENV) $(LUA) $(CURDIR)/bench/run.lua

# The benchmarks' timers (bench.clock), not part of nsbox.core: nothing installed uses them.
build/bench/clock.so: bench/clock.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -shared -o $@ $<

# The HTML reference in build/doc/ (LDoc, config.ld): lua/nsbox/*.lua and csrc/*.c.
doc: deps
	rm -rf build/doc
	ldoc -c config.ld .

install: $(SO) $(SO_RTNL) $(SO_NFT) $(SO_SCMP) $(SECCOMP_DEFAULT) $(BC)
	install -d $(LMOD)/nsbox $(CMOD)/nsbox $(BINDIR)
	install -m 644 $(BC) $(LMOD)/nsbox/
	install -m 755 $(SO) $(SO_RTNL) $(SO_NFT) $(SO_SCMP) $(CMOD)/nsbox/
	sed '1s|.*|#!$(LUA_BIN)|' bin/nsbox > $(BINDIR)/nsbox && chmod 755 $(BINDIR)/nsbox
	install -d $(MANDIR)/man1
	install -m 644 man/nsbox.1 $(MANDIR)/man1/nsbox.1

# The setuid-root network helper for unprivileged users: csrc/nsbox-netns.c and the
# plain C it shares with nsbox.core / nsbox.rtnl.
NSBOX_NETNS_CONF  ?= /etc/nsbox/netns.conf
NSBOX_NETNS_STATE ?= /run/nsbox/net
HELPER            := build/nsbox-netns
HELPER_CFLAGS     ?= -O2 -g -D_FORTIFY_SOURCE=2 -fPIE -fstack-protector-strong
HELPER_LDFLAGS    ?= -pie -Wl,-z,relro,-z,now

helper: $(HELPER)
HELPER_SRCS       := csrc/nsbox-netns.c csrc/lease.c csrc/nl.c csrc/rtnl_neigh.c csrc/addr.c \
                     csrc/ifname.c csrc/starttime.c csrc/randhex.c csrc/nft.c csrc/nft_antispoof.c
$(HELPER): $(HELPER_SRCS) $(wildcard csrc/*.h)
	@mkdir -p $(@D)
	$(CC) $(HELPER_CFLAGS) -std=c11 -Wall -Wextra -Werror \
	  -DNSBOX_NETNS_CONF='"$(NSBOX_NETNS_CONF)"' -DNSBOX_NETNS_STATE='"$(NSBOX_NETNS_STATE)"' \
	  $(HELPER_LDFLAGS) -o $@ $(HELPER_SRCS) -lnftnl -lmnl

# Setuid root: only by this explicit target, never by `make install`. Keeps an existing config.
install-helper: $(HELPER)
	install -d $(PREFIX)/lib/nsbox
	install -o root -g root -m 4755 $(HELPER) $(PREFIX)/lib/nsbox/nsbox-netns
	install -d -o root -g root -m 755 $(dir $(NSBOX_NETNS_CONF))
	[ -e $(NSBOX_NETNS_CONF) ] || { printf '%s\n' \
	  '# nsbox-netns: the bridges unprivileged users may attach their containers to.' \
	  '# One line each:  bridge NAME GATEWAY/PREFIX [nat]   (the bridge is created if missing,' \
	  '# with GATEWAY on it; addresses are leased from the rest of the subnet; nat: egress,' \
	  '# the subnet masqueraded in table inet nsbox and IPv4 forwarding turned on).' \
	  '# This file and its directory must be owned by root and writable by root only.' \
	  '#bridge brg0 10.10.10.1/24' > $(NSBOX_NETNS_CONF) && chmod 644 $(NSBOX_NETNS_CONF); }

clean:
	rm -rf build $(SO) $(SO_RTNL) $(SO_NFT) $(SO_SCMP) $(SECCOMP_DEFAULT)
