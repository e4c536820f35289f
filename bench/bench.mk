# make bench: figures, not a test (bench/bench.sh). Needs root, or user namespaces, for unshare.
.PHONY: bench

build/bench/runs: bench/runs.c
	@mkdir -p $(@D)
	$(CC) -O2 $(WARN) -o $@ $<

build/bench/sysfs-magic.so: bench/sysfs-magic.c
	@mkdir -p $(@D)
	$(CC) -shared -fPIC -O2 $(WARN) -o $@ $< -ldl

bench: all build/bench/runs build/bench/sysfs-magic.so build/fakekernel.so
	bench/bench.sh
