# SPDX-License-Identifier: GPL-2.0
#
# `make check` in the guest: every KUnit module, then every kselftest, as one
# KTAP document on the second serial port (the console keeps the kernel log).
# Each module and each kselftest is one top-level test; their own results
# are nested under it.

out=/dev/ttyS1
selftests=$(ls /teeio/selftests)
cp /teeio/kunit.modules /tmp/kunit.modules
# teeio.tests=NAME[,NAME...] on the kernel command line runs those
# kselftests alone, in that order.
only=$(sed -n 's/.*teeio\.tests=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$only" ]; then
	selftests=$(echo "$only" | tr , ' ')
	: >/tmp/kunit.modules
fi
total=$(grep -c . /tmp/kunit.modules)
for t in $selftests; do total=$((total + 1)); done

indent() { sed 's/^/    /'; }

echo "teeio-guest: tests start"
{
	echo "KTAP version 1"
	echo "1..$total"
} >$out
n=0

# KUnit suites run when their module loads; debugfs keeps each suite's KTAP
# until the module goes away.
# Unloads the modules in $needs, last loaded first.
unload_needs() {
	for d in $(echo $needs | tr ' ' '\n' | sed '1!G;h;$!d'); do rmmod $d; done
}

# Each line: a module and its parameters; "needs=a,b" loads modules a and
# b first (their own suites, if any, are not counted) and unloads them after.
while read -r m params; do
	[ -n "$m" ] || continue
	n=$((n + 1))
	needs=
	case "$params" in needs=*) needs=$(echo "${params%% *}" | sed 's/^needs=//; s/,/ /g'); params= ;; esac
	for d in $needs; do insmod /lib/modules/teeio/$d.ko; done
	before=$(ls /sys/kernel/debug/kunit)
	if ! insmod /lib/modules/teeio/$m.ko $params; then
		echo "not ok $n kunit:$m # insmod failed" >$out
		unload_needs
		continue
	fi
	suites=$(ls /sys/kernel/debug/kunit | grep -vxF "$before")
	result=ok
	[ -n "$suites" ] || result="not ok"
	count=0
	for s in $suites; do count=$((count + 1)); done
	{
		echo "    KTAP version 1"
		echo "    1..$count"
		i=0
		for s in $suites; do
			# Each file is a KTAP document with one suite: drop its
			# header and plan, number the suite's result line.
			i=$((i + 1))
			grep -v -e '^KTAP version' -e '^1\.\.1$' /sys/kernel/debug/kunit/$s/results |
				sed -E "s/^(not ok|ok) 1 /\1 $i /" | indent
		done
	} >/tmp/kunit.ktap
	grep -qE '^ *not ok' /tmp/kunit.ktap && result="not ok"
	cat /tmp/kunit.ktap >$out
	if ! rmmod $m; then
		echo "    # rmmod $m failed" >$out
		result="not ok"
	fi
	unload_needs
	echo "$result $n kunit:$m" >$out
done </tmp/kunit.modules

for t in $selftests; do
	n=$((n + 1))
	(cd /teeio/selftests && ./$t) >/tmp/selftest.tap 2>&1
	rc=$?
	indent </tmp/selftest.tap >$out
	case $rc in
	0) echo "ok $n selftests:teeio:$t" ;;
	4) echo "ok $n selftests:teeio:$t # SKIP" ;;
	*) echo "not ok $n selftests:teeio:$t # exit=$rc" ;;
	esac >$out
done

# Leaks found after the tests are reported on the console, which fails the
# run. kmemleak ignores objects younger than 5 s and reports an object only
# when a second scan finds it unreferenced and unchanged.
if [ -w /sys/kernel/debug/kmemleak ]; then
	sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	echo scan >/sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak
fi
