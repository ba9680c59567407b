/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C edge of the iommufd TSM extension: file references the kernel
 * crate has no abstraction for (iommufd contexts, VFIO device cdevs, VM
 * files, anonymous files with read and poll) and the PCI/TSM calls with
 * kernel sockptrs. ext_main.rs and its modules are the rest.
 */
#ifndef _TEEIO_EXT_EDGE_H
#define _TEEIO_EXT_EDGE_H

#include <linux/types.h>
#include "../../include/uapi/linux/teeio_iommufd.h"

struct file;
struct iommufd_ctx;
struct kvm;
struct pci_dev;
struct poll_table_struct;

/* Provided by C (ext_edge.c). */
struct iommufd_ctx *teeio_ext_iommufd_get(int fd);
void teeio_ext_iommufd_put(struct iommufd_ctx *ictx);
int teeio_ext_vfio_device_get(int fd, struct iommufd_ctx *ictx, u32 dev_id,
			      struct file **file, struct pci_dev **pdev);
int teeio_ext_vm_get(int fd, struct file **file, struct kvm **vm);
void teeio_ext_file_put(struct file *file);
struct file *teeio_ext_emu_vm_file(void);
/*
 * The MMIO reporting offset of @pdev's next binds (teeio_tsm_bind_mmio_offset()).
 * -ENODEV for a nonzero @offset when no TSM bridge is loaded.
 */
int teeio_ext_bind_mmio_offset(struct pci_dev *pdev, u64 offset);
int teeio_ext_emu_vm_import_mmio(int vm_fd, u32 slot, u64 gpa, u64 size,
				 int dmabuf_fd);
struct file *teeio_ext_veventq_file(void *queue);
ssize_t teeio_ext_guest_req(struct pci_dev *pdev, u32 scope, const void *in,
			    size_t in_len, void *out, size_t out_len,
			    u64 *tsm_code);
u32 teeio_ext_pci_segment(struct pci_dev *pdev);
u16 teeio_ext_pci_bdf(struct pci_dev *pdev);

/* Provided by Rust (veventq.rs). */
ssize_t teeio_ext_veventq_read(void *queue, char __user *buf, size_t len,
			       bool nonblock);
__poll_t teeio_ext_veventq_poll(void *queue, struct file *file,
				struct poll_table_struct *wait);
void teeio_ext_veventq_release(void *queue);

#endif /* _TEEIO_EXT_EDGE_H */
