# make check: the whole suite, built twice (plain, and with ASan+UBSan) with -Werror, on
# fixture machines that umockdev fakes; nothing here touches the real /sys.
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)
SAN_plain   :=
SAN_asan    := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# The sanitizers' XDR interceptors look up the real functions once, at start-up: libtirpc,
# which libvirt's RPC uses, must be loaded by then, not only when hook/dl.c opens libvirt.
TIRPC_LIBS  := $(shell pkg-config --libs libtirpc 2>/dev/null)
TIRPC_AT_START := -Wl,--push-state,--no-as-needed $(TIRPC_LIBS) -Wl,--pop-state
SANLIBS_asan := $(if $(TIRPC_LIBS),$(TIRPC_AT_START))
UNIT_TESTS  := test-pciaddr test-cpuset test-config test-sysfs test-domxml test-ledger test-child test-engine
VARIANTS    := plain asan
TEST_BINS   := $(foreach v,$(VARIANTS),build/$(v)/vfio-hook $(addprefix build/$(v)/,$(UNIT_TESTS)))
TEST_HWDB   := build/hwdb/etc/udev/hwdb.bin

# Every source compiled once per variant (variant_objs, in the Makefile); the program, the unit
# tests and the fuzz replays of a variant link from its objects.
# Objects are kept between runs: relinking one test must not recompile anything else.
.SECONDARY:

define variant_rules
build/$(1)/obj/%.o: hook/%.c $$(HDRS)
	@mkdir -p $$(@D)
	$$(CC) $$(CPPFLAGS) $$(ALL_CFLAGS) $$(WERROR) $$(SAN_$(1)) -c -o $$@ $$<

build/$(1)/obj/test-%.o: tests/unit/test-%.c $$(HDRS)
	@mkdir -p $$(@D)
	$$(CC) $$(CPPFLAGS) $$(ALL_CFLAGS) $$(WERROR) -Ihook $$(SAN_$(1)) -c -o $$@ $$<

build/$(1)/vfio-hook: $$(call variant_objs,$(1),$$(SRCS))
	$$(CC) $$(ALL_CFLAGS) $$(SAN_$(1)) $$(LDFLAGS) -o $$@ $$^ $$(PKG_LIBS) $$(SANLIBS_$(1))

build/$(1)/test-%: build/$(1)/obj/test-%.o $$(call variant_objs,$(1),$$(LIB_SRCS))
	$$(CC) $$(ALL_CFLAGS) $$(SAN_$(1)) $$(LDFLAGS) -o $$@ $$^ $$(PKG_LIBS) $$(CMOCKA_LIBS) $$(SANLIBS_$(1))
endef
$(foreach v,$(VARIANTS),$(eval $(call variant_rules,$(v))))

# The program on a host where libvirt's and libxml2's libraries are missing (tests/libraries.sh): the
# plain objects, with hook/dl.c built for sonames that do not exist.
build/nolib/obj/dl.o: hook/dl.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(filter-out $(SONAMES),$(CPPFLAGS)) -DLIBVIRT_SONAME='"libvirt-missing.so.0"' \
		-DLIBXML2_SONAME='"libxml2-missing.so.2"' $(ALL_CFLAGS) $(WERROR) -c -o $@ $<

# The program on a host whose libxml2 has another soname than the one it was built with (a
# distribution's libxml2 2.14 ships libxml2.so.16), libvirt there (tests/libraries.sh).
build/noxml/obj/dl.o: hook/dl.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(filter-out $(SONAMES),$(CPPFLAGS)) -DLIBVIRT_SONAME='"$(LIBVIRT_SO)"' \
		-DLIBXML2_SONAME='"libxml2-missing.so.2"' $(ALL_CFLAGS) $(WERROR) -c -o $@ $<

build/nolib/vfio-hook build/noxml/vfio-hook: build/%/vfio-hook: build/%/obj/dl.o $(filter-out build/plain/obj/dl.o,$(call variant_objs,plain,$(SRCS)))
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

build/%.so: tests/lib/%.c
	@mkdir -p $(@D)
	$(CC) -shared -fPIC -O2 $(WARN) $(WERROR) -o $@ $< -ldl

build/mute-socket: tests/lib/mute-socket.c
	@mkdir -p $(@D)
	$(CC) -O2 $(WARN) $(WERROR) -o $@ $<

$(TEST_HWDB): $(wildcard tests/fixtures/hwdb/*.hwdb)
	rm -rf build/hwdb && mkdir -p build/hwdb/etc/udev/hwdb.d
	cp $^ build/hwdb/etc/udev/hwdb.d/
	systemd-hwdb --root=build/hwdb update --strict

CHECK_BINS  := all $(TEST_BINS) build/nolib/vfio-hook build/noxml/vfio-hook build/hwdb-redirect.so \
	build/fakekernel.so build/mute-socket $(TEST_HWDB)
# The build runs on every core, whatever -j make was given; then the suites (tests/run-tests.sh).
NPROC       := $(shell nproc 2>/dev/null || echo 2)
.PHONY: check-build check-fast-build
check-build: $(CHECK_BINS)
check-fast-build: $(filter-out build/asan/%,$(CHECK_BINS))

check:
	@$(MAKE) --no-print-directory -j$(NPROC) check-build
	VARIANTS='$(VARIANTS)' tests/run-tests.sh

# The edit-test loop: the plain build, and the suites SUITES names (default: those whose
# subject the uncommitted change touches, tests/run-tests.sh --changed), no lint.
check-fast:
	@$(MAKE) --no-print-directory -j$(NPROC) check-fast-build
	VARIANTS=plain NO_LINT=1 tests/run-tests.sh $(if $(SUITES),$(SUITES),--changed)

lint:
	tests/lint.sh

# The real-kernel harness: a QEMU guest with an IOMMU and a real libvirtd (tests/vm/run.sh).
vm-check: all
	tests/vm/run.sh
