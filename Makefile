# SPDX-License-Identifier: GPL-2.0
#
# make                 module (kmod/ftpage.ko), ftpagectl and selftests
# make KERNEL=6.12     the same against the 6.12 test kernel's headers
# make test            build and run the selftests in QEMU test VMs (both kernels)
#                      KERNEL=6.1|6.12  T=<test>  EXTRA_TESTS=<dir>
# make demo            the demo migration (README)
# make bench           the benchmark in a test VM (KERNEL=6.1 unless given):
#                      table, JSON and chart into BENCH_OUT
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

.PHONY: all module userspace selftests test demo bench clean

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

demo: userspace selftests
	@echo "make demo: the demo migration lands with the end-to-end issue;"
	@echo "until then it runs the remote-paging content test in a test VM."
	$(VM)/run.sh --kernel 6.1 --test remote_content

bench: userspace selftests
	$(VM)/run.sh --bench $(BENCH_OUT) --kernel $(or $(KERNEL),6.1)

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	$(MAKE) -C userspace clean
	$(MAKE) -C selftests clean
