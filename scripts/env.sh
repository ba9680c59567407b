# SPDX-License-Identifier: GPL-2.0
# Shared settings of the teeio bench scripts; sourced, never run.

TEEIO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TEEIO_CACHE=${TEEIO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/teeio}

# The kernel teeio targets: Debian's linux-source package, pinned.
KERNEL_SERIES=7.3
KERNEL_PKG=linux-source-$KERNEL_SERIES
KERNEL_PKG_VERSION=${KERNEL_PKG_VERSION:-7.3.4-1~bpo13+1}
KERNEL_SUITE="trixie-backports"

# Toolchain pins.
LLVM_SUFFIX=-19
BINDGEN_VERSION=0.73.2

# Debug variant (KASAN, lockdep, kmemleak, fault injection) when DEBUG=1.
DEBUG=${DEBUG:-0}
if [ "$DEBUG" = 1 ]; then TEEIO_VARIANT=debug; else TEEIO_VARIANT=release; fi

# Sources are unpacked once per kernel version; builds are kept per
# kernel version, variant and rustc version, and reconfigured in place.
rustc_version() { rustc --version | awk '{print $2}'; }
kernel_src_dir() { echo "$TEEIO_CACHE/src/linux-$(cat "$TEEIO_CACHE/src/current-version")"; }
kernel_build_dir() {
	echo "$TEEIO_CACHE/build/linux-$(cat "$TEEIO_CACHE/src/current-version")-$TEEIO_VARIANT-rustc$(rustc_version)"
}

log() { printf 'teeio: %s\n' "$*" >&2; }
die() { printf 'teeio: error: %s\n' "$*" >&2; exit 1; }
