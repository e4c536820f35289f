# make check: the whole suite, built twice (plain, and with ASan+UBSan), on fixture machines
# that umockdev fakes; nothing here touches the real /sys.
HDRS        := $(wildcard hook/*.h)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)
SAN_plain   :=
SAN_asan    := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# The sanitizers' XDR interceptors look up the real functions once, at start-up: libtirpc,
# which libvirt's RPC uses, must be loaded by then, not only when hook/dl.c opens libvirt.
TIRPC_LIBS  := $(shell pkg-config --libs libtirpc 2>/dev/null)
TIRPC_AT_START := -Wl,--push-state,--no-as-needed $(TIRPC_LIBS) -Wl,--pop-state
SANLIBS_asan := $(if $(TIRPC_LIBS),$(TIRPC_AT_START))
UNIT_TESTS  := test-pciid test-config test-sysfs test-domxml test-ledger test-child
VARIANTS    := plain asan
TEST_BINS   := $(foreach v,$(VARIANTS),build/$(v)/vfio-hook $(addprefix build/$(v)/,$(UNIT_TESTS)))
TEST_HWDB   := build/hwdb/etc/udev/hwdb.bin

build/%/vfio-hook: $(SRCS) $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(SAN_$*) $(LDFLAGS) -o $@ $(SRCS) $(PKG_LIBS) $(SANLIBS_$*)

# The program on a host where libvirt's and libxml2's libraries are missing (tests/dl.sh).
build/nolib/vfio-hook: $(SRCS) $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(filter-out $(SONAMES),$(CPPFLAGS)) -DLIBVIRT_SONAME='"libvirt-missing.so.0"' \
		-DLIBXML2_SONAME='"libxml2-missing.so.2"' $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(SRCS) $(PKG_LIBS)

# The program on a host whose libxml2 has another soname than the one it was built with (a
# distribution's libxml2 2.14 ships libxml2.so.16), libvirt there (tests/attack-speed.sh).
build/noxml/vfio-hook: $(SRCS) $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(filter-out $(SONAMES),$(CPPFLAGS)) -DLIBVIRT_SONAME='"$(LIBVIRT_SO)"' \
		-DLIBXML2_SONAME='"libxml2-missing.so.2"' $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(SRCS) $(PKG_LIBS)

# One rule per unit test: tests/unit/NAME.c linked with everything but main.c.
define unit_test_rule
build/%/$(1): tests/unit/$(1).c $$(LIB_SRCS) $$(HDRS)
	@mkdir -p $$(@D)
	$$(CC) $$(CPPFLAGS) $$(ALL_CFLAGS) -Ihook $$(SAN_$$*) $$(LDFLAGS) -o $$@ $$< $$(LIB_SRCS) $$(PKG_LIBS) $$(CMOCKA_LIBS) $$(SANLIBS_$$*)
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_test_rule,$(t))))

build/%.so: tests/lib/%.c
	@mkdir -p $(@D)
	$(CC) -shared -fPIC -O2 $(WARN) -o $@ $< -ldl

build/mute-socket: tests/lib/mute-socket.c
	@mkdir -p $(@D)
	$(CC) -O2 $(WARN) -o $@ $<

$(TEST_HWDB): $(wildcard tests/fixtures/hwdb/*.hwdb)
	rm -rf build/hwdb && mkdir -p build/hwdb/etc/udev/hwdb.d
	cp $^ build/hwdb/etc/udev/hwdb.d/
	systemd-hwdb --root=build/hwdb update --strict

check: all $(TEST_BINS) build/nolib/vfio-hook build/noxml/vfio-hook build/hwdb-redirect.so build/fakekernel.so build/mute-socket $(TEST_HWDB)
	VARIANTS='$(VARIANTS)' tests/run-tests.sh

# One variant only, for a quick edit-test loop.
check-fast: all build/plain/vfio-hook build/nolib/vfio-hook build/noxml/vfio-hook $(addprefix build/plain/,$(UNIT_TESTS)) build/hwdb-redirect.so build/fakekernel.so build/mute-socket $(TEST_HWDB)
	VARIANTS=plain NO_LINT=1 tests/run-tests.sh

lint:
	tests/lint.sh

# The real-kernel harness: a QEMU guest with an IOMMU and a real libvirtd (tests/vm/run.sh).
vm-check: all
	tests/vm/run.sh
