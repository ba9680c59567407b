/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C edge of the host TSM bridge: what Rust calls into (platform driver
 * registration, the PCI/TSM context objects, pci_ide streams, sockptr
 * copies) and what it provides (the operations in bridge_main.rs).
 */
#ifndef _TEEIO_PCI_TSM_GLUE_H
#define _TEEIO_PCI_TSM_GLUE_H

#include <linux/pci-tsm.h>
#include <linux/pci-ide.h>
#include "../../include/teeio/tsm_fw.h"

/* Provided by Rust (bridge_main.rs). */
void *teeio_bridge_attach(struct device *dev, const struct teeio_tsm_fw *fw);
void teeio_bridge_detach(void *bridge);
int teeio_bridge_connect(void *bridge, struct pci_dev *pdev);
void teeio_bridge_disconnect(void *bridge, struct pci_dev *pdev);
int teeio_bridge_bind(void *bridge, struct pci_dev *pdev, struct kvm *kvm,
		      u32 tdi_id, u64 mmio_offset, u64 *tvm);
void teeio_bridge_unbind(void *bridge, struct pci_dev *pdev, struct kvm *kvm,
			 u32 tdi_id, u64 tvm);
int teeio_bridge_vm_release(void *bridge, struct kvm *kvm);
int teeio_bridge_import_mmio(void *bridge, struct kvm *kvm, u32 slot, u64 gpa,
			     struct dma_buf *dmabuf);
ssize_t teeio_bridge_guest_req(void *bridge, struct pci_dev *pdev, u64 tvm,
			       u32 tdi_id, u32 scope, const void *in,
			       size_t in_len, void *out, size_t out_len,
			       u64 *tsm_code);

/* Provided by C (pci_tsm_glue.c). */
int teeio_bridge_driver_register(void);
void teeio_bridge_driver_unregister(void);
struct pci_ide *teeio_bridge_ide_setup(struct pci_dev *pdev);
int teeio_bridge_ide_enable(struct pci_dev *pdev, struct pci_ide *ide);
void teeio_bridge_ide_release(struct pci_ide *ide);
u8 teeio_bridge_ide_stream_id(const struct pci_ide *ide);
u32 teeio_bridge_pci_id(struct pci_dev *pdev);
u32 teeio_bridge_root_port_id(struct pci_dev *pdev);
void teeio_bridge_set_ide(struct pci_dev *pdev, struct pci_ide *ide);
struct pci_ide *teeio_bridge_take_ide(struct pci_dev *pdev);
struct pci_dev *teeio_bridge_dsm_dev(struct pci_dev *pdev);

/* What teeio_bridge_exporter_notify() tells a device's MMIO exporter. */
enum teeio_bridge_exporter_event {
	TEEIO_BRIDGE_EXPORTER_LOCKED,
	TEEIO_BRIDGE_EXPORTER_REVOKE,
	TEEIO_BRIDGE_EXPORTER_RECOVER,
};
/* Tells @pdev's MMIO exporter; false when it has none. */
bool teeio_bridge_exporter_notify(struct pci_dev *pdev, u32 event);

#endif /* _TEEIO_PCI_TSM_GLUE_H */
