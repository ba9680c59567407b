// SPDX-License-Identifier: GPL-2.0
/*
 * The C edge of the teeio VFIO PCI variant driver (see vfio_edge.h).
 *
 * Everything vfio-pci does comes from vfio_pci_core, VFIO_DEVICE_FEATURE_DMA_BUF
 * included. On top: the TDI MMIO dma-buf (TEEIO_VFIO_DEVICE_FEATURE_TDI_DMA_BUF),
 * exported only while the device's TDI is locked, revoked in the TDI's
 * teardown before its private MMIO is unmapped and recovered once the TDI
 * is freed; and resets and config writes that would break a locked TDI are
 * refused (vfio_main.rs decides).
 *
 * Lock order: teeio_vfio_dmabufs_lock -> a dma-buf's reservation lock (->
 * the importer's own locks, from its invalidate_mappings).
 */
#include <linux/dma-buf.h>
#include <linux/dma-resv.h>
#include <linux/file.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

#include "../include/uapi/linux/teeio_vfio.h"
#include "vfio_edge.h"

MODULE_IMPORT_NS("DMA_BUF");

/**
 * struct teeio_vfio_device - a device driven by teeio-vfio-pci
 * @core: vfio_pci_core's device
 * @tdi: vfio_main.rs's state of the device's TDI
 * @dmabufs: its TDI MMIO dma-bufs (struct teeio_tdi_dma_buf.link)
 */
struct teeio_vfio_device {
	struct vfio_pci_core_device core;
	void *tdi;
	struct list_head dmabufs;
};

/**
 * struct teeio_tdi_dma_buf - one exported TDI MMIO range
 * @dmabuf: the dma-buf
 * @vdev: the exporting device; NULL once its VFIO device closed
 * @link: in @vdev's list
 * @paddr: host physical address of the range
 * @revoked: importers may not map it
 */
struct teeio_tdi_dma_buf {
	struct dma_buf *dmabuf;
	struct teeio_vfio_device *vdev;
	struct list_head link;
	phys_addr_t paddr;
	bool revoked;
};

/* Guards every device's dma-buf list and each dma-buf's @vdev. */
static DEFINE_MUTEX(teeio_vfio_dmabufs_lock);

static struct teeio_vfio_device *to_teeio(struct vfio_device *core_vdev)
{
	return container_of(core_vdev, struct teeio_vfio_device, core.vdev);
}

/* Importers must be able to drop their mappings when told (revocation). */
static int teeio_tdi_dma_buf_attach(struct dma_buf *dmabuf,
				    struct dma_buf_attachment *attach)
{
	struct teeio_tdi_dma_buf *priv = dmabuf->priv;

	if (!dma_buf_attach_revocable(attach))
		return -EOPNOTSUPP;
	return READ_ONCE(priv->revoked) ? -ENODEV : 0;
}

/*
 * The range as one entry whose DMA address is the host physical address:
 * the importer this exists for (the platform's secure stage-2) translates
 * guest physical to host physical addresses, so there is no IOVA to make.
 */
static struct sg_table *teeio_tdi_dma_buf_map(struct dma_buf_attachment *attach,
					      enum dma_data_direction dir)
{
	struct teeio_tdi_dma_buf *priv = attach->dmabuf->priv;
	struct sg_table *sgt;
	int ret;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (priv->revoked)
		return ERR_PTR(-ENODEV);
	sgt = kzalloc_obj(*sgt);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	ret = sg_alloc_table(sgt, 1, GFP_KERNEL);
	if (ret) {
		kfree(sgt);
		return ERR_PTR(ret);
	}
	sg_dma_address(sgt->sgl) = priv->paddr;
	sg_dma_len(sgt->sgl) = attach->dmabuf->size;
	return sgt;
}

static void teeio_tdi_dma_buf_unmap(struct dma_buf_attachment *attach,
				    struct sg_table *sgt,
				    enum dma_data_direction dir)
{
	sg_free_table(sgt);
	kfree(sgt);
}

static void teeio_tdi_dma_buf_release(struct dma_buf *dmabuf)
{
	struct teeio_tdi_dma_buf *priv = dmabuf->priv;

	mutex_lock(&teeio_vfio_dmabufs_lock);
	if (priv->vdev)
		list_del(&priv->link);
	mutex_unlock(&teeio_vfio_dmabufs_lock);
	kfree(priv);
}

static const struct dma_buf_ops teeio_tdi_dma_buf_ops = {
	.attach = teeio_tdi_dma_buf_attach,
	.map_dma_buf = teeio_tdi_dma_buf_map,
	.unmap_dma_buf = teeio_tdi_dma_buf_unmap,
	.release = teeio_tdi_dma_buf_release,
};

static void teeio_tdi_dma_buf_set_revoked(struct teeio_tdi_dma_buf *priv,
					  bool revoked)
{
	dma_resv_lock(priv->dmabuf->resv, NULL);
	priv->revoked = revoked;
	/* Revoking: importers unmap from here, under the reservation lock. */
	if (revoked)
		dma_buf_invalidate_mappings(priv->dmabuf);
	dma_resv_unlock(priv->dmabuf->resv);
}

unsigned int teeio_vfio_edge_move(struct teeio_vfio_device *vdev, bool revoked)
{
	struct teeio_tdi_dma_buf *priv;
	unsigned int moved = 0;

	mutex_lock(&teeio_vfio_dmabufs_lock);
	list_for_each_entry(priv, &vdev->dmabufs, link) {
		if (!get_file_active(&priv->dmabuf->file))
			continue;
		if (priv->revoked != revoked) {
			teeio_tdi_dma_buf_set_revoked(priv, revoked);
			moved++;
		}
		fput(priv->dmabuf->file);
	}
	mutex_unlock(&teeio_vfio_dmabufs_lock);
	return moved;
}

/* The VFIO device closes: its dma-bufs are revoked for good. */
static void teeio_vfio_dma_bufs_cleanup(struct teeio_vfio_device *vdev)
{
	struct teeio_tdi_dma_buf *priv, *tmp;

	mutex_lock(&teeio_vfio_dmabufs_lock);
	list_for_each_entry_safe(priv, tmp, &vdev->dmabufs, link) {
		list_del_init(&priv->link);
		priv->vdev = NULL;
		if (!get_file_active(&priv->dmabuf->file))
			continue;
		teeio_tdi_dma_buf_set_revoked(priv, true);
		fput(priv->dmabuf->file);
	}
	mutex_unlock(&teeio_vfio_dmabufs_lock);
}

static int teeio_vfio_feature_tdi_dma_buf(struct teeio_vfio_device *vdev,
					  u32 flags,
					  struct vfio_device_feature_dma_buf __user *arg,
					  size_t argsz)
{
	struct vfio_device_feature_dma_buf get = {};
	struct pci_dev *pdev = vdev->core.pdev;
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);
	struct vfio_region_dma_range range;
	struct teeio_tdi_dma_buf *priv;
	u64 end;
	int ret;

	ret = vfio_check_feature(flags, argsz, VFIO_DEVICE_FEATURE_GET,
				 sizeof(get) + sizeof(range));
	if (ret != 1)
		return ret;
	if (copy_from_user(&get, arg, sizeof(get)) ||
	    copy_from_user(&range, &arg->dma_ranges[0], sizeof(range)))
		return -EFAULT;
	if (get.nr_ranges != 1 || get.flags ||
	    get.open_flags & ~(O_CLOEXEC | O_ACCMODE)) {
		pci_info(pdev, "TDI dma-buf refused: one range, no flags (nr_ranges %u flags %#x)\n",
			 get.nr_ranges, get.flags);
		return -EINVAL;
	}
	if (get.region_index > PCI_STD_RESOURCE_END ||
	    !(pci_resource_flags(pdev, get.region_index) & IORESOURCE_MEM) ||
	    !range.length || !PAGE_ALIGNED(range.offset) ||
	    !PAGE_ALIGNED(range.length) ||
	    check_add_overflow(range.offset, range.length, &end) ||
	    end > pci_resource_len(pdev, get.region_index)) {
		pci_info(pdev, "TDI dma-buf refused: BAR %u %#llx+%#llx is no page-aligned memory range of a BAR\n",
			 get.region_index, range.offset, range.length);
		return -EINVAL;
	}
	ret = teeio_vfio_tdi_may_export(vdev->tdi);
	if (ret)
		return ret;

	priv = kzalloc_obj(*priv);
	if (!priv)
		return -ENOMEM;
	priv->paddr = pci_resource_start(pdev, get.region_index) + range.offset;
	INIT_LIST_HEAD(&priv->link);

	exp_info.ops = &teeio_tdi_dma_buf_ops;
	exp_info.size = range.length;
	exp_info.flags = get.open_flags;
	exp_info.priv = priv;
	priv->dmabuf = dma_buf_export(&exp_info);
	if (IS_ERR(priv->dmabuf)) {
		ret = PTR_ERR(priv->dmabuf);
		kfree(priv);
		return ret;
	}

	/* A revoke that ran since the check above must see this dma-buf. */
	mutex_lock(&teeio_vfio_dmabufs_lock);
	if (!teeio_vfio_tdi_locked(vdev->tdi)) {
		mutex_unlock(&teeio_vfio_dmabufs_lock);
		dma_buf_put(priv->dmabuf);
		return -EBADFD;
	}
	priv->vdev = vdev;
	list_add_tail(&priv->link, &vdev->dmabufs);
	mutex_unlock(&teeio_vfio_dmabufs_lock);

	/* dma_buf_fd() consumes the reference; the release frees @priv. */
	ret = dma_buf_fd(priv->dmabuf, get.open_flags);
	if (ret < 0) {
		dma_buf_put(priv->dmabuf);
		return ret;
	}
	pci_info(pdev, "TDI dma-buf exported: BAR %u %#llx+%#llx (host %pa)\n",
		 get.region_index, range.offset, range.length, &priv->paddr);
	return ret;
}

static int teeio_vfio_device_feature(struct vfio_device *core_vdev, u32 flags,
				     void __user *arg, size_t argsz)
{
	if ((flags & VFIO_DEVICE_FEATURE_MASK) == TEEIO_VFIO_DEVICE_FEATURE_TDI_DMA_BUF)
		return teeio_vfio_feature_tdi_dma_buf(to_teeio(core_vdev), flags,
						      arg, argsz);
	return vfio_pci_core_ioctl_feature(core_vdev, flags, arg, argsz);
}

static long teeio_vfio_ioctl(struct vfio_device *core_vdev, unsigned int cmd,
			     unsigned long arg)
{
	struct teeio_vfio_device *vdev = to_teeio(core_vdev);
	int ret;

	if (cmd == VFIO_DEVICE_RESET || cmd == VFIO_DEVICE_PCI_HOT_RESET) {
		ret = teeio_vfio_tdi_may_reset(vdev->tdi);
		if (ret)
			return ret;
	}
	return vfio_pci_core_ioctl(core_vdev, cmd, arg);
}

static ssize_t teeio_vfio_write(struct vfio_device *core_vdev,
				const char __user *buf, size_t count,
				loff_t *ppos)
{
	struct teeio_vfio_device *vdev = to_teeio(core_vdev);
	u64 offset = *ppos & VFIO_PCI_OFFSET_MASK;
	u8 *data;
	int ret;

	if (VFIO_PCI_OFFSET_TO_INDEX(*ppos) == VFIO_PCI_CONFIG_REGION_INDEX &&
	    count && count <= PCI_CFG_SPACE_EXP_SIZE) {
		data = memdup_user(buf, count);
		if (IS_ERR(data))
			return PTR_ERR(data);
		ret = teeio_vfio_tdi_may_write_config(vdev->tdi, offset, data,
						      count);
		kfree(data);
		if (ret)
			return ret;
	}
	return vfio_pci_core_write(core_vdev, buf, count, ppos);
}

static int teeio_vfio_open_device(struct vfio_device *core_vdev)
{
	struct vfio_pci_core_device *core = &to_teeio(core_vdev)->core;
	int ret;

	ret = vfio_pci_core_enable(core);
	if (ret)
		return ret;
	vfio_pci_core_finish_enable(core);
	return 0;
}

static void teeio_vfio_close_device(struct vfio_device *core_vdev)
{
	teeio_vfio_dma_bufs_cleanup(to_teeio(core_vdev));
	vfio_pci_core_close_device(core_vdev);
}

static int teeio_vfio_init_dev(struct vfio_device *core_vdev)
{
	INIT_LIST_HEAD(&to_teeio(core_vdev)->dmabufs);
	return vfio_pci_core_init_dev(core_vdev);
}

static const struct vfio_device_ops teeio_vfio_ops = {
	.name		= "teeio-vfio-pci",
	.init		= teeio_vfio_init_dev,
	.release	= vfio_pci_core_release_dev,
	.open_device	= teeio_vfio_open_device,
	.close_device	= teeio_vfio_close_device,
	.ioctl		= teeio_vfio_ioctl,
	.get_region_info_caps = vfio_pci_ioctl_get_region_info,
	.device_feature = teeio_vfio_device_feature,
	.read		= vfio_pci_core_read,
	.write		= teeio_vfio_write,
	.mmap		= vfio_pci_core_mmap,
	.request	= vfio_pci_core_request,
	.match		= vfio_pci_core_match,
	.match_token_uuid = vfio_pci_core_match_token_uuid,
	.bind_iommufd	= vfio_iommufd_physical_bind,
	.unbind_iommufd	= vfio_iommufd_physical_unbind,
	.attach_ioas	= vfio_iommufd_physical_attach_ioas,
	.detach_ioas	= vfio_iommufd_physical_detach_ioas,
	.pasid_attach_ioas	= vfio_iommufd_physical_pasid_attach_ioas,
	.pasid_detach_ioas	= vfio_iommufd_physical_pasid_detach_ioas,
};

/* VFIO_DEVICE_FEATURE_DMA_BUF as vfio-pci offers it. */
static const struct vfio_pci_device_ops teeio_vfio_pci_ops = {
	.get_dmabuf_phys = vfio_pci_core_get_dmabuf_phys,
};

static int teeio_vfio_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct teeio_vfio_device *vdev;
	int ret;

	vdev = vfio_alloc_device(teeio_vfio_device, core.vdev, &pdev->dev,
				 &teeio_vfio_ops);
	if (IS_ERR(vdev))
		return PTR_ERR(vdev);
	vdev->core.pci_ops = &teeio_vfio_pci_ops;
	ret = teeio_vfio_tdi_new(vdev, pdev, &vdev->tdi);
	if (ret)
		goto out_put_vdev;
	dev_set_drvdata(&pdev->dev, vdev);
	ret = vfio_pci_core_register_device(&vdev->core);
	if (ret)
		goto out_free_tdi;
	return 0;

out_free_tdi:
	teeio_vfio_tdi_free(vdev->tdi);
out_put_vdev:
	vfio_put_device(&vdev->core.vdev);
	return ret;
}

static void teeio_vfio_remove(struct pci_dev *pdev)
{
	struct teeio_vfio_device *vdev = dev_get_drvdata(&pdev->dev);

	vfio_pci_core_unregister_device(&vdev->core);
	teeio_vfio_tdi_free(vdev->tdi);
	vfio_put_device(&vdev->core.vdev);
}

/* Bound by driver_override only, as vfio-pci. */
static const struct pci_device_id teeio_vfio_table[] = {
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_ANY_ID, PCI_ANY_ID) },
	{}
};
MODULE_DEVICE_TABLE(pci, teeio_vfio_table);

static struct pci_driver teeio_vfio_driver = {
	.name			= "teeio-vfio-pci",
	.id_table		= teeio_vfio_table,
	.probe			= teeio_vfio_probe,
	.remove			= teeio_vfio_remove,
	.err_handler		= &vfio_pci_core_err_handlers,
	.driver_managed_dma	= true,
};

int teeio_vfio_edge_register(void)
{
	return pci_register_driver(&teeio_vfio_driver);
}

void teeio_vfio_edge_unregister(void)
{
	pci_unregister_driver(&teeio_vfio_driver);
}
