# SPDX-License-Identifier: GPL-2.0
#
# `make demo` in the guest: shows the test machine and what the teeio
# modules do, on the console.

step() { printf '\n==== teeio demo: %s\n' "$*"; }

# lspci -vv for one function, extended capabilities only. Debian 12's
# lspci (3.9) names the DOE capability but predates IDE (0x30) and TEE-IO.
ext_caps() {
	lspci -s "$1" -vv 2>/dev/null | grep -E 'Capabilities: \[[0-9a-f]{3}' ||
		echo "	(no extended capabilities)"
}

# PCIe DEVCAP, with bit 30 (TEE-IO Supported) decoded.
devcap() {
	local v
	v=$(setpci -s "$1" CAP_EXP+4.l)
	echo "DevCap $v: TEE-IO $([ $((0x$v >> 30 & 1)) = 1 ] && echo supported || echo not supported)"
}

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

step "0000:01:00.0 as it really is: no TEE-IO, no DOE, no IDE"
devcap 01:00.0
ext_caps 01:00.0

step "EMULATION: teeio_tdisp_emu turns 0000:01:00.0 into a TDISP device"
insmod /lib/modules/teeio/teeio_tdisp_emu.ko bdfs=0000:01:00.0
dmesg | grep -E 'teeio_tdisp_emu: [0-9a-f]{4}:.*EMULATED'
echo "-- endpoint: TEE-IO in DevCap, DOE at 0xe00, IDE (0x30) at 0xe20"
devcap 01:00.0
ext_caps 01:00.0
echo "-- its root port: IDE (0x30) at 0xe20"
ext_caps 00:10.0 | grep 'Capabilities: \[e'
echo "-- protocols upstream pci_doe discovered (0001:01 is PCI-SIG CMA/SPDM):"
ls /sys/bus/pci/devices/0000:01:00.0/doe_features
echo "-- the in-kernel suite, through upstream pci_doe():"
grep -E '^ +(not )?ok |^# teeio_tdisp_emu: ' /sys/kernel/debug/kunit/teeio_tdisp_emu/results
rmmod teeio_tdisp_emu
echo "-- unloaded: 0000:01:00.0 is probed again as it really is"
devcap 01:00.0
ext_caps 01:00.0

step "host TSM bridge over the EMULATED platform TSM: connect, bind, report, unbind, disconnect"
BDF=0000:01:00.0
TSM=/sys/bus/pci/devices/$BDF/tsm
HOOK=/sys/kernel/debug/teeio_tsm_test
STATES="CONFIG_UNLOCKED CONFIG_LOCKED RUN ERROR"
# One test-hook command; prints what it did and its outcome.
hook() {
	echo "$*" > $HOOK/control 2>/dev/null
	printf '%-44s -> %s\n' "$*" "$(head -1 $HOOK/result)"
}
tdi_state() {
	echo "state $BDF" > $HOOK/control
	set -- $STATES
	shift "$(sed -n 's/^rc=\([0-9]*\) .*/\1/p' $HOOK/result)"
	echo "TDI $BDF: $1"
}
EVENTS=/sys/kernel/debug/teeio_ioasid/events
# The IOASID core's event log since the last call: handler calls in order.
events() {
	grep -v ' atomic ' $EVENTS | sed 's/^/   /'
	echo clear > $EVENTS
}
insmod /lib/modules/teeio/teeio_ioasid.ko
echo clear > $EVENTS
insmod /lib/modules/teeio/teeio_tdisp_emu.ko bdfs=$BDF
insmod /lib/modules/teeio/teeio_tsm_emu.ko
insmod /lib/modules/teeio/teeio_tsm_bridge.ko
insmod /lib/modules/teeio/teeio_tsm_test.ko
dmesg | grep -E 'EMULATED platform TSM|host TSM bridge registered'
echo "-- TSM devices: $(ls /sys/class/tsm)"
echo "-- before connect: connect='$(cat $TSM/connect)' authenticated='$(cat /sys/bus/pci/devices/$BDF/authenticated)'"
echo "# echo tsm0 > $TSM/connect"
echo tsm0 > $TSM/connect
dmesg | grep -E 'EMULATED TSM: device|IDE stream|connected:' | tail -4
echo "-- connect='$(cat $TSM/connect)' authenticated='$(cat /sys/bus/pci/devices/$BDF/authenticated)' dsm='$(cat $TSM/dsm)' bound='$(cat $TSM/bound)'"
echo "-- IDE streams upstream pci_ide registered on the host bridge: $(ls /sys/devices/pci0000:00 | grep "^stream" | tr "\n" " ")"
tdi_state
echo "-- bind for VM 0 through pci_tsm_bind() (test hook)"
hook bind $BDF 0 0100
echo "-- bound='$(cat $TSM/bound)'"
tdi_state
echo "-- guest requests (pci_tsm_guest_req): state, report, measurements"
hook req $BDF 0 2 0100 0 0 8
hook req $BDF 0 1 0100 0 4096
hook req $BDF 0 3 0100 0 0 | cut -c1-60
echo "-- refused: a state change in INFO scope, another TDI, a second VM"
hook req $BDF 0 6 0100 0 0
hook req $BDF 1 6 0200 0 0
hook bind $BDF 1 0100
echo "-- path 1, host unbind: UNBIND to the TDI's IOASID; its subscribers tear down CPU > DEVICE > IOMMU > LAST"
echo clear > $EVENTS
hook unbind $BDF
events
echo "-- bound='$(cat $TSM/bound)'"
tdi_state
echo "-- path 2, guest STOP_INTERFACE: the same four steps, DEVICE being the TVM's own STOP"
hook bind $BDF 0 0100
echo clear > $EVENTS
hook req $BDF 1 7 0100 0 0
events
tdi_state
hook unbind $BDF
events
echo "-- path 3, the VM goes away before it unbinds: its IOASID set is freed (FREE), teardown in the same order"
hook bind $BDF 1 0100
echo clear > $EVENTS
hook vmfree 1
sleep 1
events
tdi_state
hook unbind $BDF
echo "-- path 4, rmmod of the bridge with a bound TDI (TSM unregister): the PCI/TSM core unbinds"
hook bind $BDF 2 0100
echo clear > $EVENTS
rmmod teeio_tsm_test teeio_tsm_bridge
events
insmod /lib/modules/teeio/teeio_tsm_bridge.ko
insmod /lib/modules/teeio/teeio_tsm_test.ko
echo tsm0 > $TSM/connect
echo "# echo tsm0 > $TSM/disconnect"
echo tsm0 > $TSM/disconnect
echo "-- connect='$(cat $TSM/connect)' authenticated='$(cat /sys/bus/pci/devices/$BDF/authenticated)'"
rmmod teeio_tsm_test teeio_tsm_bridge teeio_tsm_emu teeio_tdisp_emu

step "iommufd TSM extension: the host lifecycle, driven by the VMM CLI (teeio-vmm)"
insmod /lib/modules/teeio/teeio_tdisp_emu.ko bdfs=$BDF
insmod /lib/modules/teeio/teeio_tsm_emu.ko
insmod /lib/modules/teeio/teeio_tsm_bridge.ko
insmod /lib/modules/teeio/teeio_iommufd_tsm.ko
ls -l /dev/teeio-iommufd
echo clear > $EVENTS
echo "# teeio-vmm lifecycle $BDF --virt-id 0x100"
teeio-vmm lifecycle $BDF --virt-id 0x100
echo "-- exit status $?; the IOASID event log of its teardowns (guest stop, then the VMM's unbind):"
events
echo "-- the same steps in a session, one per line; '!' marks a step that must fail"
teeio-vmm session - <<-SESSION
	connect $BDF
	vm
	viommu
	veventq --depth 8
	vdevice $BDF --virt-id 0x100
	!vdevice $BDF --virt-id 0x101
	bind
	!bind
	req state
	req map-mmio
	req accept-dma
	req start
	info
	# the VMM goes away here: the extension file's close tears down in order
	close
	disconnect $BDF
SESSION
echo "-- exit status $?"
events

step "private MMIO: teeio-vfio-pci exports the TDI's MMIO as dma-bufs; revoke, unmap, free, recover"
insmod /lib/modules/teeio/teeio_vfio_pci.ko
echo clear > $EVENTS
mark=$(dmesg | wc -l)
echo "# teeio-vmm private-mmio-lifecycle $BDF --virt-id 0x100"
teeio-vmm private-mmio-lifecycle $BDF --virt-id 0x100
echo "-- exit status $?; what the variant driver, the bridge and the emulated TSM logged:"
dmesg | tail -n +$((mark + 1)) | grep -E 'TDI dma-buf|dma-bufs|private MMIO|secure stage-2|teardown|TDI freed|CONFIG_LOCKED' | sed 's/^/   /'
echo "-- the IOASID event log: mmio-revoke first, mmio-recover after the TDI is freed"
events
rmmod teeio_vfio_pci

step "guest TDISP: the TVM's driver locks, accepts and unlocks its view of the device; the VMM relays its requests"
# 0000:03:00.0 stands for the device as the TVM sees it: its routing id is
# the TDI id, its BAR 0 where the host's BAR 0 is offered to the TVM.
GUEST_BDF=0000:03:00.0
insmod /lib/modules/teeio/teeio_vfio_pci.ko
insmod /lib/modules/teeio/teeio_tdisp_guest.ko devices=$GUEST_BDF
ls -l /dev/teeio-tdisp-guest
echo "-- TSM devices: $(ls /sys/class/tsm)"
echo clear > $EVENTS
mark=$(dmesg | wc -l)
echo "# teeio-vmm guest-lifecycle $BDF $GUEST_BDF"
teeio-vmm guest-lifecycle $BDF $GUEST_BDF
echo "-- exit status $?; what the guest driver and the bridge logged:"
dmesg | tail -n +$((mark + 1)) | grep -E "teeio_tdisp_guest|teeio-tdisp-guest|$GUEST_BDF|MMIO reporting offset" | sed 's/^/   /'
echo "-- the IOASID event log of its teardowns (guest stop, then the VMM's unbind):"
events
rmmod teeio_tdisp_guest teeio_vfio_pci

step "iommufd TSM extension benchmark: vDEVICE alloc+destroy beside IOAS alloc+destroy, TSM_REQ beside a bare DOE exchange"
teeio-vmm bench $BDF --virt-id 0x100 --iterations 2000
rmmod teeio_iommufd_tsm teeio_tsm_bridge teeio_tsm_emu teeio_tdisp_emu

step "IOASID core benchmark: alloc+free beside the kernel IDA, notify cost per subscriber"
echo 200000 > /sys/kernel/debug/teeio_ioasid/bench
cat /sys/kernel/debug/teeio_ioasid/bench
rmmod teeio_ioasid

step "teeio protocol library, in the kernel: KUnit"
insmod /lib/modules/teeio/teeio_proto_kunit.ko
for s in /sys/kernel/debug/kunit/teeio_proto_*; do
	grep -E "^# $(basename "$s"): " "$s/results"
done
rmmod teeio_proto_kunit

step "kselftests"
for t in $(ls /teeio/selftests); do
	(cd /teeio/selftests && ./$t) 2>&1 | grep -E '^(ok|not ok|# (PASSED|FAILED|Totals))'
done
