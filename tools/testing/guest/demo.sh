# SPDX-License-Identifier: GPL-2.0
#
# `make demo` in the guest: shows the test machine and what the teeio
# modules do, on the console.

step() { printf '\n==== teeio demo: %s\n' "$*"; }

# Keep the console for the demo: kernel warnings and worse still show.
dmesg -n 5

step "machine"
uname -a
grep -m1 'model name' /proc/cpuinfo

step "PCIe topology: endpoints behind root ports, each in its own IOMMU group"
lspci -tv
for dev in /sys/bus/pci/devices/*; do
	group=$(basename "$(readlink "$dev/iommu_group" 2>/dev/null)" 2>/dev/null)
	printf '%s  class %s  iommu group %s  driver %s\n' "$(basename "$dev")" \
		"$(cat "$dev/class")" "${group:--}" \
		"$(basename "$(readlink "$dev/driver" 2>/dev/null)" 2>/dev/null)"
done

step "device assignment interfaces"
ls -l /dev/iommu /dev/vfio 2>&1

step "teeio protocol library, in the kernel: KUnit"
for m in $(cat /teeio/kunit.modules); do
	before=$(ls /sys/kernel/debug/kunit)
	insmod /lib/modules/teeio/$m.ko
	for s in $(ls /sys/kernel/debug/kunit | grep -vxF "$before"); do
		grep -E '^ +(not )?ok ' /sys/kernel/debug/kunit/$s/results
		grep -E "^# $s: " /sys/kernel/debug/kunit/$s/results
	done
	rmmod $m
done

step "kselftests"
for t in $(ls /teeio/selftests); do
	(cd /teeio/selftests && ./$t)
done
