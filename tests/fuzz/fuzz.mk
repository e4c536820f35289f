# make fuzz: libFuzzer targets (clang, -fsanitize=fuzzer,address,undefined), one per parser of
# untrusted text: the device map, libvirt's domain/status XML and the ownership ledger. Each runs
# for FUZZ_RUNS inputs (or FUZZ_SECONDS each) from a copy of its seeds in tests/fuzz/TARGET/;
# crashes land in build/fuzz/artifacts/TARGET/. `make check` replays the seeds and
# tests/fuzz/TARGET/regressions/ with gcc, plain and under ASan+UBSan (build/VARIANT/test-fuzz-*).
FUZZ_CC      ?= clang
# At 500000, config takes 19-25 s, domxml 39-60 s and the ledger 85 s on 2 busy cores; side by
# side (tests/fuzz/run.sh, a target per core) about 1.5 minutes in all.
# FUZZ_SECONDS=N: each target runs N seconds instead, with no count unless FUZZ_RUNS is given too.
FUZZ_SECONDS ?=
FUZZ_RUNS    ?= $(if $(FUZZ_SECONDS),-1,500000)
# The ledger target waits for the module it tests.
FUZZ_TARGETS ?= config domxml $(if $(wildcard hook/ledger.c),ledger)
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=gnu11 $(WARN) $(WERROR) -O1 -g $(PKG_CFLAGS) -Ihook
FUZZ_OBJS    := $(patsubst hook/%.c,build/fuzz/obj/%.o,$(LIB_SRCS))

.PHONY: fuzz fuzz-build
# Kept between runs (.SECONDARY, tests/tests.mk): relinking a target recompiles nothing.

build/fuzz/obj/%.o: hook/%.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c -o $@ $<

build/fuzz/fuzz-%: tests/fuzz/fuzz-%.c $(FUZZ_OBJS)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) $(PKG_LIBS)

fuzz-build: $(addprefix build/fuzz/fuzz-,$(FUZZ_TARGETS))
# The build on every core, whatever -j make was given, as make check's.
fuzz:
	@$(MAKE) --no-print-directory -j$(NPROC) fuzz-build
	FUZZ_TARGETS='$(FUZZ_TARGETS)' FUZZ_RUNS='$(FUZZ_RUNS)' FUZZ_SECONDS='$(FUZZ_SECONDS)' tests/fuzz/run.sh

# The same targets without libFuzzer, for make check: every seed and regression once, linked
# from each variant's objects (tests/tests.mk).
define fuzz_replay_rule
build/$(2)/obj/fuzz-$(1).o: tests/fuzz/fuzz-$(1).c $$(HDRS)
	@mkdir -p $$(@D)
	$$(CC) $$(CPPFLAGS) $$(ALL_CFLAGS) $$(WERROR) -Ihook $$(SAN_$(2)) -c -o $$@ $$<

build/$(2)/obj/replay-$(1).o: tests/fuzz/replay.c
	@mkdir -p $$(@D)
	$$(CC) $$(CPPFLAGS) $$(ALL_CFLAGS) $$(WERROR) -Ihook $$(SAN_$(2)) -DFUZZ_DIR='"tests/fuzz/$(1)"' -c -o $$@ $$<

build/$(2)/test-fuzz-$(1): build/$(2)/obj/replay-$(1).o build/$(2)/obj/fuzz-$(1).o $$(call variant_objs,$(2),$$(LIB_SRCS))
	$$(CC) $$(ALL_CFLAGS) $$(SAN_$(2)) $$(LDFLAGS) -o $$@ $$^ $$(PKG_LIBS) $$(SANLIBS_$(2))
endef
$(foreach t,$(FUZZ_TARGETS),$(foreach v,$(VARIANTS),$(eval $(call fuzz_replay_rule,$(t),$(v)))))

FUZZ_REPLAYS := $(addprefix test-fuzz-,$(FUZZ_TARGETS))
check-build: $(foreach v,$(VARIANTS),$(addprefix build/$(v)/,$(FUZZ_REPLAYS)))
check-fast-build: $(addprefix build/plain/,$(FUZZ_REPLAYS))
