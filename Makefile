# SPDX-License-Identifier: GPL-2.0
#
# teeio top-level Makefile.
#
#   make demo    boot the test machine in QEMU and show the modules at work
#   make check   run every test: host, kernel + modules build, boot, KUnit,
#                kselftests; ends with "N passed, M failed"
#
# Both install what they need first (scripts/setup). DEBUG=1 selects the debug
# kernel (KASAN, lockdep, kmemleak, fault injection). Kbuild, not this file,
# describes the modules; see Documentation/bench.rst.

SHELL := /bin/bash
DEBUG ?= 0
export DEBUG

VARIANT := $(if $(filter 1,$(DEBUG)),debug,release)
BUILD := $(CURDIR)/build/$(VARIANT)
TEEIO_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/teeio
export TEEIO_CACHE

# Evaluated when used, after `kernel` has fetched and built the tree.
# $(shell) sees exported variables only from GNU make 4.4 on: DEBUG is passed.
KDIR = $(shell DEBUG=$(DEBUG) scripts/kernel-build --dir)
KSRC = $(TEEIO_CACHE)/src/linux-$(shell cat $(TEEIO_CACHE)/src/current-version)
KMAKE = $(MAKE) -C $(KDIR) LLVM=-19
BENCH := $(CURDIR)/target/release/teeio-bench
BENCH_ARGS = --kernel $(KDIR)/arch/x86/boot/bzImage --initrd $(BUILD)/initramfs.cpio.gz \
	--probe-cache $(TEEIO_CACHE)/kvm-probe

.PHONY: all setup kernel bindings modules selftests bench vmm initramfs demo check \
	host-test fuzz rust-analyzer clean help

all: initramfs bench

help:
	@sed -n '3,12p' Makefile

setup:
	scripts/setup

kernel: setup
	scripts/kernel-build >/dev/null

# The project's bindgen step, on its own before the modules that include it.
bindings: kernel
	$(KMAKE) M=$(CURDIR)/rust/bindings

modules: bindings
	$(KMAKE) M=$(CURDIR) modules

# The kernel's uAPI headers (VFIO cdev, IOMMUFD) are newer than the host's.
selftests: kernel
	$(KMAKE) headers_install INSTALL_HDR_PATH=$(KDIR)/usr >/dev/null
	$(MAKE) -C tools/testing/selftests/teeio OUTPUT=$(BUILD)/selftests \
		KSELFTEST_DIR=$(KSRC)/tools/testing/selftests \
		KHDR_INCLUDES="-isystem $(KDIR)/usr/include"

bench:
	cargo build --release --locked -p teeio-bench

# The VMM library's CLI, which the test machine runs.
vmm:
	cargo build --release --locked -p teeio-vmm

initramfs: modules selftests vmm
	@mkdir -p $(BUILD)
	scripts/mkinitramfs $(BUILD)/initramfs.cpio.gz $(CURDIR) $(BUILD)/selftests

demo: initramfs bench
	$(BENCH) $(BENCH_ARGS) --mode demo --timeout 600 --out $(BUILD)/demo

check:
	scripts/check

host-test:
	cargo test --locked --workspace

# Every lib/proto parser under libFuzzer, RUNS inputs each (default 1M).
fuzz:
	scripts/fuzz

# rust-project.json for editors, covering the kernel crates and the modules.
rust-analyzer: bindings
	$(KMAKE) M=$(CURDIR) rust-analyzer

clean:
	-$(KMAKE) M=$(CURDIR) clean
	-$(KMAKE) M=$(CURDIR)/rust/bindings clean
	rm -rf build target
