# vfio-hook — libvirt QEMU hook that moves PCI devices to vfio-pci and back.
VERSION    := 0.1.0
PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
SYSCONFDIR ?= /etc
DATADIR    ?= $(PREFIX)/share
HOOKDIR    ?= $(SYSCONFDIR)/libvirt/hooks
MANDIR     ?= $(DATADIR)/man
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
DESTDIR    ?=
# no: the program, its pages and completion only; the system's configuration installs the hook
# and the map (NixOS's module, etc/nixos/).
HOOK       ?= yes

PKGS       := libvirt libxml-2.0 inih libudev
# libvirt and libxml2 are dlopen()ed where they are used (hook/dl.c): headers and sonames only.
LINKED     := inih libudev
CC         ?= cc
# A cross build's pkg-config has a prefix (Nix and others export PKG_CONFIG).
PKG_CONFIG ?= pkg-config
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(LINKED)) -ldl
# Looked up once, when a compile first needs them; make stops when soname.sh cannot tell one
# (an empty name would make dlopen() open the program itself).
soname      = $(or $(shell scripts/soname.sh $(1) $(CC)),$(error cannot tell the soname of $(1)'s library: see scripts/soname.sh's message above))
LIBVIRT_SO  = $(eval LIBVIRT_SO := $(call soname,libvirt))$(LIBVIRT_SO)
LIBXML2_SO  = $(eval LIBXML2_SO := $(call soname,libxml-2.0))$(LIBXML2_SO)
# What dlopen() is given. A system without /usr/lib, or whose libvirt runs hooks with a bare
# environment (NixOS), passes the libraries' absolute paths instead:
#   make LIBVIRT_SONAME=/nix/store/...-libvirt/lib/libvirt.so.0 LIBXML2_SONAME=...
# An absolute one must exist, or every use of libvirt would fail at run time.
LIBVIRT_SONAME ?= $(LIBVIRT_SO)
LIBXML2_SONAME ?= $(LIBXML2_SO)
dlname      = $(if $(filter /%,$(1)),$(if $(wildcard $(1)),$(1),$(error $(2)=$(1): no such file (give the path of the installed library, or leave $(2) out to use the soname))),$(1))
SONAMES     = -DLIBVIRT_SONAME='"$(call dlname,$(LIBVIRT_SONAME),LIBVIRT_SONAME)"' -DLIBXML2_SONAME='"$(call dlname,$(LIBXML2_SONAME),LIBXML2_SONAME)"'
WARN       := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
# Warnings are errors in make check and make fuzz (so in CI: tests/tests.mk, tests/fuzz/fuzz.mk),
# never in the program a plain make builds: a newer compiler's new warning must not break it.
WERROR     ?= -Werror
CFLAGS     ?= -O2 -g
# Where make install puts the example map (scripts/install.sh): the line for a missing map names it.
EXAMPLE_MAP = $(DATADIR)/doc/vfio-hook/examples/vfio-hook.ini
CPPFLAGS   += -D_FORTIFY_SOURCE=2 -DVERSION='"$(VERSION)"' $(SONAMES) -DEXAMPLE_MAP='"$(EXAMPLE_MAP)"'
ALL_CFLAGS  = -std=gnu11 $(WARN) $(CFLAGS) $(PKG_CFLAGS)

SRCS := $(wildcard hook/*.c)
LIB_SRCS := $(filter-out hook/main.c,$(SRCS))
HDRS := $(wildcard hook/*.h)
# Every source is compiled once per test variant, into build/VARIANT/obj/ with -Werror
# (tests/tests.mk): each variant's test program, unit tests and fuzz replays link from them.
# The program here has objects of its own, built without -Werror.
variant_objs = $(patsubst hook/%.c,build/$(1)/obj/%.o,$(2))
OBJS := $(call variant_objs,user,$(SRCS))

.PHONY: all clean install uninstall check check-asan check-fast lint vm-check

all: hook/vfio-hook

build/user/obj/%.o: hook/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

hook/vfio-hook: $(OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(OBJS) $(PKG_LIBS)

install: hook/vfio-hook
	SBINDIR='$(SBINDIR)' HOOKDIR='$(HOOKDIR)' SYSCONFDIR='$(SYSCONFDIR)' DATADIR='$(DATADIR)' DESTDIR='$(DESTDIR)' \
		MANDIR='$(MANDIR)' BASHCOMPDIR='$(BASHCOMPDIR)' HOOK='$(HOOK)' \
		scripts/install.sh install

uninstall:
	SBINDIR='$(SBINDIR)' HOOKDIR='$(HOOKDIR)' SYSCONFDIR='$(SYSCONFDIR)' DATADIR='$(DATADIR)' DESTDIR='$(DESTDIR)' \
		MANDIR='$(MANDIR)' BASHCOMPDIR='$(BASHCOMPDIR)' \
		scripts/install.sh uninstall

include tests/tests.mk
include tests/fuzz/fuzz.mk
include bench/bench.mk

clean:
	rm -f hook/vfio-hook
	rm -rf build
