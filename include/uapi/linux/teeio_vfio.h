/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * teeio VFIO PCI variant driver (teeio-vfio-pci): what it adds to vfio-pci
 * for devices whose TDI a TVM may bind.
 *
 * TEEIO_VFIO_DEVICE_FEATURE_TDI_DMA_BUF (VFIO_DEVICE_FEATURE_GET) takes a
 * struct vfio_device_feature_dma_buf (<linux/vfio.h>) with exactly one
 * range and returns a dma-buf fd for that range of the BAR, for the TVM's
 * private MMIO: hand it to the TVM with
 * TEEIO_IOMMUFD_EMU_VM_SET_MEMORY_REGION (<linux/teeio_iommufd.h>). Export
 * needs the device's TDI locked (bound to a TVM): -EBADFD otherwise. The
 * dma-buf is revoked when the TDI is torn down, before its private MMIO is
 * unmapped, and recovered once the TDI is freed; importers must support
 * revocation (dynamic attachments with invalidate_mappings), and a revoked
 * dma-buf cannot be mapped (-ENODEV) until recovered. Closing the VFIO
 * device revokes its dma-bufs for good.
 *
 * While the TDI is bound (locked or running, until it is freed),
 * VFIO_DEVICE_RESET, VFIO_DEVICE_PCI_HOT_RESET and config space writes that
 * clear Memory Space or Bus Master Enable, write a BAR or the expansion ROM
 * BAR, or start a Function Level Reset are refused with -EBUSY: each would
 * move the TDI to ERROR (PCIe TDISP), so the VMM must unbind first.
 */
#ifndef _UAPI_LINUX_TEEIO_VFIO_H
#define _UAPI_LINUX_TEEIO_VFIO_H

#include <linux/vfio.h>

/* Outside the upstream feature numbers; struct vfio_device_feature_dma_buf. */
#define TEEIO_VFIO_DEVICE_FEATURE_TDI_DMA_BUF 0x7e10

#endif /* _UAPI_LINUX_TEEIO_VFIO_H */
