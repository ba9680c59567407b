/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C edge of the teeio VFIO PCI variant driver: the PCI driver, the
 * vfio_device_ops built on vfio_pci_core, and the TDI MMIO dma-buf
 * exporter. vfio_main.rs keeps each device's TDI phase and decides what a
 * locked TDI allows.
 */
#ifndef _TEEIO_VFIO_EDGE_H
#define _TEEIO_VFIO_EDGE_H

#include <linux/types.h>

struct pci_dev;
struct teeio_vfio_device;

/* Provided by C (vfio_edge.c). */
int teeio_vfio_edge_register(void);
void teeio_vfio_edge_unregister(void);
/* Revokes (@revoked) or recovers every TDI MMIO dma-buf of @vdev; returns how many. */
unsigned int teeio_vfio_edge_move(struct teeio_vfio_device *vdev, bool revoked);

/* Provided by Rust (vfio_main.rs). */
int teeio_vfio_tdi_new(struct teeio_vfio_device *vdev, struct pci_dev *pdev,
		       void **tdi);
void teeio_vfio_tdi_free(void *tdi);
/* 0, or -EBUSY when the TDI's phase forbids it. */
int teeio_vfio_tdi_may_reset(void *tdi);
int teeio_vfio_tdi_may_write_config(void *tdi, u64 offset, const u8 *data,
				    size_t len);
/* 0 when a dma-buf for private MMIO may be exported now. */
int teeio_vfio_tdi_may_export(void *tdi);
/* Whether the TDI is locked; no log line. */
bool teeio_vfio_tdi_locked(void *tdi);

#endif /* _TEEIO_VFIO_EDGE_H */
