/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the host TSM bridge (teeio_tsm_bridge) offers other modules.
 */
#ifndef _TEEIO_TSM_BRIDGE_H
#define _TEEIO_TSM_BRIDGE_H

#include <linux/types.h>

struct dma_buf;
struct kvm;
struct pci_dev;

/*
 * The VM @kvm is going away before it unbound its TDIs: every TDI it has
 * bound is torn down in order now (CPU, DEVICE, IOMMU, LAST) by freeing
 * its IOASID set; the unbinds that follow find nothing left to do.
 * Returns 0, or -ENOENT when no TSM has a TVM for @kvm.
 */
int teeio_tsm_vm_release(struct kvm *kvm);

/**
 * struct teeio_tsm_mmio_exporter_ops - what the exporter of a device's MMIO
 *	(a VFIO variant driver) is told about the device's TDI
 * @locked: the TDI was bound to a TVM (CONFIG_LOCKED)
 * @revoke: the TDI's teardown began: revoke its MMIO dma-bufs now; the
 *	importers unmap them before the secure stage-2 unmap step runs
 * @recover: the TDI was freed: its dma-bufs may be used shared again
 *
 * Called in process context, never two at a time for one device.
 */
struct teeio_tsm_mmio_exporter_ops {
	void (*locked)(void *data);
	void (*revoke)(void *data);
	void (*recover)(void *data);
};

/*
 * Registers the exporter of @pdev's MMIO. -EEXIST when @pdev has one,
 * -EBUSY when its TDI is bound already (register before binding).
 */
int teeio_tsm_mmio_exporter_register(struct pci_dev *pdev,
				     const struct teeio_tsm_mmio_exporter_ops *ops,
				     void *data);
/* Unregisters it, waiting for a running callback. */
void teeio_tsm_mmio_exporter_unregister(struct pci_dev *pdev);

/*
 * Hands the TVM of VM @kvm a private MMIO dma-buf: the platform's secure
 * stage-2 attaches to it and maps it at guest physical address @gpa once
 * the guest accepts that range. @slot names it in the VM. The TSM checks
 * that it is exactly an MMIO range of a locked TDI of that TVM. Returns 0,
 * -ENOENT when no TSM has a TVM for @kvm, or the TSM's refusal.
 */
int teeio_tsm_vm_import_mmio(struct kvm *kvm, u32 slot, u64 gpa,
			     struct dma_buf *dmabuf);

/*
 * The binds of @pdev that follow, until it is set to 0 again, offer its
 * memory BARs to the TVM at their host physical addresses plus @offset
 * (where the VM sees them) and lock the TDI with @offset as its MMIO
 * reporting offset. Upstream TSM drivers learn guest addresses from KVM's
 * memslots; there is no KVM here. Returns 0, -EINVAL when @offset is not
 * 4 KiB aligned, or -ENOMEM.
 */
int teeio_tsm_bind_mmio_offset(struct pci_dev *pdev, u64 offset);

#endif /* _TEEIO_TSM_BRIDGE_H */
