# SPDX-License-Identifier: GPL-2.0
#
# make                 module (kmod/ftpage.ko), ftpagectl and selftests
# make KERNEL=6.12     the same against the 6.12 test kernel's headers
# make test            build and run the selftests in QEMU test VMs (both kernels)
#                      KERNEL=6.1|6.12  T=<test>  EXTRA_TESTS=<dir>
# make demo            the demo migration (README)
# make bench           the benchmark in a test VM (KERNEL=6.1 unless given):
#                      table, JSON and chart into BENCH_OUT
# make bench-wan       the WAN benchmark (push over a long capped link,
#                      1..8 streams): table and JSON into BENCH_OUT
# make install         module, ftpagectl, uapi header (DESTDIR, PREFIX)
# make clean

KERNEL ?=
T ?=
EXTRA_TESTS ?=
BENCH_OUT ?= selftests/build/bench
VM := selftests/vm

# KDIR: the running kernel's build dir when it exists, else the test
# kernel's headers (installed on demand by the VM setup script).
ifeq ($(KDIR),)
ifeq ($(KERNEL),)
KDIR := $(wildcard /lib/modules/$(shell uname -r)/build)
endif
ifeq ($(KDIR),)
KDIR = $(shell $(VM)/setup.sh kdir $(or $(KERNEL),6.1))
endif
endif

# BUILDDIR: build the module out of a copy of the sources, so that one
# checkout can hold builds for several kernels at once.
BUILDDIR ?=

.PHONY: all module userspace selftests test demo bench bench-wan install clean

all: module userspace selftests

module:
ifeq ($(BUILDDIR),)
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules
else
	mkdir -p $(BUILDDIR)
	rm -rf $(BUILDDIR)/kmod $(BUILDDIR)/uapi
	cp -r Kbuild kmod uapi $(BUILDDIR)/
	$(MAKE) -C $(KDIR) M=$(abspath $(BUILDDIR)) modules
endif

userspace:
	$(MAKE) -C userspace

selftests:
	$(MAKE) -C selftests

test: userspace selftests
	$(VM)/run.sh $(if $(KERNEL),--kernel $(KERNEL)) $(if $(T),--test $(T)) \
		$(if $(EXTRA_TESTS),--extra $(abspath $(EXTRA_TESTS)))

# make demo [KERNEL=6.1|6.12] [FAIL=dest|link]: see selftests/vm/demo.sh
demo: userspace selftests
	$(VM)/demo.sh --kernel $(or $(KERNEL),6.1) $(if $(FAIL),--fail $(FAIL))

# install: the module into /lib/modules/<release of KDIR>/extra (the
# release the module was built for, from its vermagic), then depmod unless
# DESTDIR is set; ftpagectl into PREFIX/sbin; the uapi header into
# PREFIX/include/linux.
PREFIX ?= /usr/local
DESTDIR ?=
KO = $(if $(BUILDDIR),$(BUILDDIR)/kmod/ftpage.ko,kmod/ftpage.ko)

install: module userspace
	@kver=$$(modinfo -F vermagic $(KO) | cut -d' ' -f1); \
	test -n "$$kver" || { echo "install: no vermagic in $(KO)" >&2; exit 1; }; \
	set -x; \
	install -D -m 0644 $(KO) $(DESTDIR)/lib/modules/$$kver/extra/ftpage.ko && \
	install -D -m 0755 userspace/ftpagectl $(DESTDIR)$(PREFIX)/sbin/ftpagectl && \
	install -D -m 0644 uapi/linux/ftpage.h $(DESTDIR)$(PREFIX)/include/linux/ftpage.h && \
	if [ -z "$(DESTDIR)" ]; then depmod -a $$kver; fi

bench: userspace selftests
	$(VM)/run.sh --bench $(BENCH_OUT) --kernel $(or $(KERNEL),6.1)

bench-wan: userspace selftests
	$(VM)/run.sh --bench-wan $(BENCH_OUT) --kernel $(or $(KERNEL),6.1)

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	$(MAKE) -C userspace clean
	$(MAKE) -C selftests clean
