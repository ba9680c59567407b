// SPDX-License-Identifier: GPL-2.0
/*
 * C edge of the IOASID core: the exported C ABI (implemented in Rust),
 * the module parameter, the ordered workqueue, and the kernel IDA side of
 * the benchmark.
 */
#include <linux/idr.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "ioasid_edge.h"

static unsigned int bits = 20;
module_param(bits, uint, 0444);
MODULE_PARM_DESC(bits, "Width of the system-wide IOASID space, 8..31 (default 20)");

unsigned int teeio_ioasid_edge_bits(void)
{
	return bits;
}

struct workqueue_struct *teeio_ioasid_edge_wq_alloc(void)
{
	return alloc_ordered_workqueue("teeio_ioasid", 0);
}

void teeio_ioasid_edge_wq_flush(struct workqueue_struct *wq)
{
	flush_workqueue(wq);
}

void teeio_ioasid_edge_wq_destroy(struct workqueue_struct *wq)
{
	destroy_workqueue(wq);
}

bool teeio_ioasid_edge_in_atomic(void)
{
	return in_atomic() || irqs_disabled();
}

/*
 * Nanoseconds for @rounds rounds of @batch ida_alloc_range() calls in
 * [1, @max] followed by as many ida_free() calls, or 0 on failure.
 */
u64 teeio_ioasid_edge_bench_ida(u32 rounds, u32 batch, u32 max)
{
	u32 *ids = kmalloc_array(batch, sizeof(*ids), GFP_KERNEL);
	u64 start, ns = 0;
	DEFINE_IDA(ida);
	u32 r, i;

	if (!ids)
		return 0;
	start = ktime_get_ns();
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < batch; i++) {
			int id = ida_alloc_range(&ida, 1, max, GFP_KERNEL);

			if (id < 0)
				goto out;
			ids[i] = id;
		}
		for (i = 0; i < batch; i++)
			ida_free(&ida, ids[i]);
	}
	ns = ktime_get_ns() - start ?: 1;
out:
	ida_destroy(&ida);
	kfree(ids);
	return ns;
}

EXPORT_SYMBOL_GPL(teeio_ioasid_set_alloc);
EXPORT_SYMBOL_GPL(teeio_ioasid_set_adjust);
EXPORT_SYMBOL_GPL(teeio_ioasid_set_free);
EXPORT_SYMBOL_GPL(teeio_ioasid_alloc);
EXPORT_SYMBOL_GPL(teeio_ioasid_free);
EXPORT_SYMBOL_GPL(teeio_ioasid_get);
EXPORT_SYMBOL_GPL(teeio_ioasid_put);
EXPORT_SYMBOL_GPL(teeio_ioasid_get_locked);
EXPORT_SYMBOL_GPL(teeio_ioasid_put_locked);
EXPORT_SYMBOL_GPL(teeio_ioasid_find);
EXPORT_SYMBOL_GPL(teeio_ioasid_attach_data);
EXPORT_SYMBOL_GPL(teeio_ioasid_attach_spid);
EXPORT_SYMBOL_GPL(teeio_ioasid_find_by_spid);
EXPORT_SYMBOL_GPL(teeio_ioasid_notify);
EXPORT_SYMBOL_GPL(teeio_ioasid_register);
EXPORT_SYMBOL_GPL(teeio_ioasid_unregister);
EXPORT_SYMBOL_GPL(teeio_ioasid_flush);
