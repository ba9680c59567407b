/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C edge of the IOASID core: what Rust calls into (ioasid_edge.c);
 * the exported ABI it implements is include/teeio/ioasid.h.
 */
#ifndef _TEEIO_IOASID_EDGE_H
#define _TEEIO_IOASID_EDGE_H

#include <linux/types.h>
#include "../../include/teeio/ioasid.h"

struct workqueue_struct;

unsigned int teeio_ioasid_edge_bits(void);
struct workqueue_struct *teeio_ioasid_edge_wq_alloc(void);
void teeio_ioasid_edge_wq_flush(struct workqueue_struct *wq);
void teeio_ioasid_edge_wq_destroy(struct workqueue_struct *wq);
bool teeio_ioasid_edge_in_atomic(void);
u64 teeio_ioasid_edge_bench_ida(u32 rounds, u32 batch, u32 max);

#endif /* _TEEIO_IOASID_EDGE_H */
