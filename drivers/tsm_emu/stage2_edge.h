/* SPDX-License-Identifier: GPL-2.0 */
/*
 * EMULATION: the emulated secure stage-2's dma-buf importer edge. An
 * import is a dynamic attachment to a private MMIO dma-buf, mapped once to
 * learn its host physical range; a revocation (invalidate_mappings) tells
 * the firmware, which unmaps the range, and drops that mapping.
 */
#ifndef _TEEIO_STAGE2_EDGE_H
#define _TEEIO_STAGE2_EDGE_H

#include <linux/types.h>

struct device;
struct dma_buf;
struct teeio_stage2_import;

/* Provided by C (stage2_edge.c). */
struct teeio_stage2_import *teeio_stage2_import(struct device *dev,
						struct dma_buf *dmabuf,
						void *firmware, u64 *hpa,
						u64 *len);
/* Whether the exporter revoked it (set before the firmware is told). */
bool teeio_stage2_revoked(struct teeio_stage2_import *import);
/* Detaches and drops the dma-buf reference. Not under the firmware's lock. */
void teeio_stage2_release(struct teeio_stage2_import *import);

/* Provided by Rust (firmware.rs), under the dma-buf's reservation lock. */
void teeio_tsm_emu_stage2_revoked(void *firmware,
				  struct teeio_stage2_import *import);

#endif /* _TEEIO_STAGE2_EDGE_H */
