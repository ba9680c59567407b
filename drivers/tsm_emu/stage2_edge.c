// SPDX-License-Identifier: GPL-2.0
/*
 * EMULATION: the emulated secure stage-2's dma-buf importer (see
 * stage2_edge.h). Lock order: a dma-buf's reservation lock, then the
 * firmware's state lock (taken by teeio_tsm_emu_stage2_revoked()).
 */
#include <linux/dma-buf.h>
#include <linux/dma-resv.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

#include "stage2_edge.h"

MODULE_IMPORT_NS("DMA_BUF");

/**
 * struct teeio_stage2_import - one imported private MMIO dma-buf
 * @attach: the dynamic attachment
 * @sgt: its mapping; NULL once revoked
 * @firmware: told of a revocation
 * @revoked: the exporter revoked the dma-buf
 */
struct teeio_stage2_import {
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
	void *firmware;
	bool revoked;
};

bool teeio_stage2_revoked(struct teeio_stage2_import *import)
{
	return READ_ONCE(import->revoked);
}

/* Called with the reservation lock held: unmap now, map no more. */
static void teeio_stage2_invalidate(struct dma_buf_attachment *attach)
{
	struct teeio_stage2_import *import = attach->importer_priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	WRITE_ONCE(import->revoked, true);
	teeio_tsm_emu_stage2_revoked(import->firmware, import);
	if (import->sgt) {
		dma_buf_unmap_attachment(attach, import->sgt, DMA_BIDIRECTIONAL);
		import->sgt = NULL;
	}
}

static const struct dma_buf_attach_ops teeio_stage2_importer_ops = {
	.allow_peer2peer = true,
	.invalidate_mappings = teeio_stage2_invalidate,
};

struct teeio_stage2_import *teeio_stage2_import(struct device *dev,
						struct dma_buf *dmabuf,
						void *firmware, u64 *hpa,
						u64 *len)
{
	struct teeio_stage2_import *import;
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
	int ret;

	import = kzalloc_obj(*import);
	if (!import)
		return ERR_PTR(-ENOMEM);
	import->firmware = firmware;
	get_dma_buf(dmabuf);
	attach = dma_buf_dynamic_attach(dmabuf, dev, &teeio_stage2_importer_ops,
					import);
	if (IS_ERR(attach)) {
		ret = PTR_ERR(attach);
		goto out_put;
	}
	import->attach = attach;

	dma_resv_lock(dmabuf->resv, NULL);
	sgt = dma_buf_map_attachment(attach, DMA_BIDIRECTIONAL);
	if (!IS_ERR(sgt) && sgt->nents != 1) {
		dma_buf_unmap_attachment(attach, sgt, DMA_BIDIRECTIONAL);
		sgt = ERR_PTR(-EINVAL);
	}
	if (!IS_ERR(sgt))
		import->sgt = sgt;
	dma_resv_unlock(dmabuf->resv);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		goto out_detach;
	}
	*hpa = sg_dma_address(sgt->sgl);
	*len = sg_dma_len(sgt->sgl);
	return import;

out_detach:
	dma_buf_detach(dmabuf, attach);
out_put:
	dma_buf_put(dmabuf);
	kfree(import);
	return ERR_PTR(ret);
}

void teeio_stage2_release(struct teeio_stage2_import *import)
{
	struct dma_buf *dmabuf = import->attach->dmabuf;

	dma_resv_lock(dmabuf->resv, NULL);
	if (import->sgt)
		dma_buf_unmap_attachment(import->attach, import->sgt,
					 DMA_BIDIRECTIONAL);
	import->sgt = NULL;
	dma_resv_unlock(dmabuf->resv);
	dma_buf_detach(dmabuf, import->attach);
	dma_buf_put(dmabuf);
	kfree(import);
}
