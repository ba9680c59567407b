// SPDX-License-Identifier: GPL-2.0
/*
 * The C edge of the iommufd TSM extension (see ext_edge.h).
 */
#include <linux/anon_inodes.h>
#include <linux/dma-buf.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/iommufd.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/pci-tsm.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/sockptr.h>
#include <linux/vfio.h>

#include "../../include/teeio/tsm_bridge.h"
#include "ext_edge.h"

MODULE_IMPORT_NS("IOMMUFD");
MODULE_IMPORT_NS("DMA_BUF");

struct iommufd_ctx *teeio_ext_iommufd_get(int fd)
{
	return iommufd_ctx_from_fd(fd);
}

void teeio_ext_iommufd_put(struct iommufd_ctx *ictx)
{
	iommufd_ctx_put(ictx);
}

/*
 * @fd must be a VFIO device cdev (/dev/vfio/devices/vfioN) of a PCI device
 * bound to @ictx as @dev_id. The file reference keeps the VFIO device open
 * and registered; the device itself is the PCI device it drives.
 */
int teeio_ext_vfio_device_get(int fd, struct iommufd_ctx *ictx, u32 dev_id,
			      struct file **filep, struct pci_dev **pdev)
{
	struct vfio_device *vdev;
	struct inode *inode;
	struct file *file;
	int id;

	file = fget(fd);
	if (!file)
		return -EBADF;
	inode = file_inode(file);
	if (!vfio_file_is_valid(file) || vfio_file_is_group(file) ||
	    !S_ISCHR(inode->i_mode) || !inode->i_cdev) {
		fput(file);
		return -EBADFD;
	}
	vdev = container_of(inode->i_cdev, struct vfio_device, cdev);
	if (!vdev->dev || !dev_is_pci(vdev->dev)) {
		fput(file);
		return -ENODEV;
	}
	id = vfio_iommufd_get_dev_id(vdev, ictx);
	if (id < 0 || (u32)id != dev_id) {
		fput(file);
		return -ENODEV;
	}
	*filep = file;
	*pdev = to_pci_dev(vdev->dev);
	return 0;
}

void teeio_ext_file_put(struct file *file)
{
	fput(file);
}

/*
 * EMULATION: a file standing for one confidential VM where KVM cannot run
 * one. Its private data is the VM identity handed to pci_tsm_bind() in
 * place of a struct kvm: only its address is ever used.
 */
struct teeio_emu_vm {
	u64 created_ns;
};

static int teeio_emu_vm_release(struct inode *inode, struct file *file)
{
	struct kvm *vm = file->private_data;
	int (*release)(struct kvm *kvm);

	/* The VM goes away: whatever it still has bound is torn down. */
	release = symbol_get(teeio_tsm_vm_release);
	if (release) {
		release(vm);
		symbol_put(teeio_tsm_vm_release);
	}
	kfree(vm);
	return 0;
}

static const struct file_operations teeio_emu_vm_fops = {
	.owner = THIS_MODULE,
	.release = teeio_emu_vm_release,
};

/* A new emulated VM file, not installed in a file table yet. */
struct file *teeio_ext_emu_vm_file(void)
{
	struct teeio_emu_vm *vm;
	struct file *file;

	vm = kzalloc(sizeof(*vm), GFP_KERNEL);
	if (!vm)
		return ERR_PTR(-ENOMEM);
	vm->created_ns = ktime_get_ns();
	file = anon_inode_getfile("[teeio-emu-vm]", &teeio_emu_vm_fops, vm,
				  O_RDWR);
	if (IS_ERR(file))
		kfree(vm);
	return file;
}

/*
 * The VM identity of @fd. KVM's file_is_kvm() is internal to KVM in this
 * kernel, so only the emulated VM file is recognised; see
 * Documentation/iommufd-tsm.rst.
 */
int teeio_ext_vm_get(int fd, struct file **filep, struct kvm **vm)
{
	struct file *file = fget(fd);

	if (!file)
		return -EBADF;
	if (file->f_op != &teeio_emu_vm_fops) {
		fput(file);
		return -EBADFD;
	}
	*filep = file;
	*vm = file->private_data;
	return 0;
}

/*
 * EMULATION of a private-MMIO memslot: hands emulated VM @vm_fd's TVM the
 * dma-buf @dmabuf_fd through the host TSM bridge.
 */
int teeio_ext_emu_vm_import_mmio(int vm_fd, u32 slot, u64 gpa, u64 size,
				 int dmabuf_fd)
{
	int (*import)(struct kvm *kvm, u32 slot, u64 gpa, struct dma_buf *dmabuf);
	struct dma_buf *dmabuf;
	struct file *file;
	struct kvm *vm;
	int rc;

	rc = teeio_ext_vm_get(vm_fd, &file, &vm);
	if (rc)
		return rc;
	dmabuf = dma_buf_get(dmabuf_fd);
	if (IS_ERR(dmabuf)) {
		rc = PTR_ERR(dmabuf);
		goto out_vm;
	}
	if (dmabuf->size != size) {
		rc = -EINVAL;
		goto out_buf;
	}
	import = symbol_get(teeio_tsm_vm_import_mmio);
	if (!import) {
		rc = -ENODEV;
		goto out_buf;
	}
	rc = import(vm, slot, gpa, dmabuf);
	symbol_put(teeio_tsm_vm_import_mmio);
out_buf:
	dma_buf_put(dmabuf);
out_vm:
	fput(file);
	return rc;
}

int teeio_ext_bind_mmio_offset(struct pci_dev *pdev, u64 offset)
{
	int (*set)(struct pci_dev *pdev, u64 offset);
	int rc;

	set = symbol_get(teeio_tsm_bind_mmio_offset);
	if (!set)
		return offset ? -ENODEV : 0;
	rc = set(pdev, offset);
	symbol_put(teeio_tsm_bind_mmio_offset);
	return rc;
}

static ssize_t teeio_veventq_fop_read(struct file *file, char __user *buf,
				      size_t len, loff_t *ppos)
{
	return teeio_ext_veventq_read(file->private_data, buf, len,
				      file->f_flags & O_NONBLOCK);
}

static __poll_t teeio_veventq_fop_poll(struct file *file,
				       struct poll_table_struct *wait)
{
	return teeio_ext_veventq_poll(file->private_data, file, wait);
}

static int teeio_veventq_fop_release(struct inode *inode, struct file *file)
{
	teeio_ext_veventq_release(file->private_data);
	return 0;
}

static const struct file_operations teeio_veventq_fops = {
	.owner = THIS_MODULE,
	.read = teeio_veventq_fop_read,
	.poll = teeio_veventq_fop_poll,
	.release = teeio_veventq_fop_release,
	.llseek = noop_llseek,
};

/*
 * A vEVENTQ file, not installed in a file table yet. On success the file
 * owns the caller's reference to @queue.
 */
struct file *teeio_ext_veventq_file(void *queue)
{
	return anon_inode_getfile("[teeio-veventq]", &teeio_veventq_fops, queue,
				  O_RDONLY);
}

ssize_t teeio_ext_guest_req(struct pci_dev *pdev, u32 scope, const void *in,
			    size_t in_len, void *out, size_t out_len,
			    u64 *tsm_code)
{
	return pci_tsm_guest_req(pdev, scope, KERNEL_SOCKPTR((void *)in), in_len,
				 KERNEL_SOCKPTR(out), out_len, tsm_code);
}

u32 teeio_ext_pci_segment(struct pci_dev *pdev)
{
	return pci_domain_nr(pdev->bus);
}

u16 teeio_ext_pci_bdf(struct pci_dev *pdev)
{
	return pci_dev_id(pdev);
}
