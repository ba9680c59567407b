// SPDX-License-Identifier: GPL-2.0
/*
 * The C edge of the host TSM bridge: the platform driver that binds to a
 * platform TSM's device, the pci_tsm_ops table registered with tsm-core,
 * the link and TDI context objects the PCI/TSM core holds, pci_ide stream
 * helpers and sockptr copies. The operations themselves are Rust
 * (bridge_main.rs).
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/pci-ide.h>
#include <linux/pci-tsm.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <linux/sockptr.h>
#include <linux/tsm.h>

#include "pci_tsm_glue.h"
#include "../../include/teeio/tsm_bridge.h"

/* Guest request buffers are bounded; the TSM's largest answer fits. */
#define TEEIO_GUEST_REQ_MAX SZ_64K

/* One bound platform TSM: the tsm_dev and the Rust bridge state. */
struct teeio_bridge_dev {
	struct list_head node;
	struct tsm_dev *tsm_dev;
	void *bridge;
};

/* The bound platform TSMs, for teeio_tsm_vm_release(). */
static DEFINE_MUTEX(teeio_bridges_lock);
static LIST_HEAD(teeio_bridges);

/* A bind's MMIO reporting offset, set by teeio_tsm_bind_mmio_offset(). */
struct teeio_bind_offset {
	struct list_head node;
	struct pci_dev *pdev;
	u64 offset;
};

static DEFINE_MUTEX(teeio_bind_offsets_lock);
static LIST_HEAD(teeio_bind_offsets);

/* Link context of a DSM function: the core's pf0 context and its stream. */
struct teeio_link {
	struct pci_tsm_pf0 pf0;
	struct pci_ide *ide;
};

/* Link context of a function the DSM of another function manages. */
struct teeio_fn_link {
	struct pci_tsm base;
};

/* A bound TDI: the core's context and the TSM's TVM handle. */
struct teeio_tdi {
	struct pci_tdi base;
	u64 tvm;
};

static void *bridge_of(struct tsm_dev *tsm_dev)
{
	struct teeio_bridge_dev *bdev = dev_get_drvdata(tsm_dev->dev.parent);

	return bdev->bridge;
}

static struct teeio_link *to_link(struct pci_dev *pdev)
{
	if (!pdev->tsm || !is_pci_tsm_pf0(pdev) || pdev->tsm->dsm_dev != pdev)
		return NULL;
	return container_of(pdev->tsm, struct teeio_link, pf0.base_tsm);
}

static struct pci_tsm *teeio_probe(struct tsm_dev *tsm_dev, struct pci_dev *pdev)
{
	int rc;

	if (is_pci_tsm_pf0(pdev)) {
		struct teeio_link *link __free(kfree) = kzalloc_obj(*link);

		if (!link)
			return NULL;
		rc = pci_tsm_pf0_constructor(pdev, &link->pf0, tsm_dev);
		if (rc)
			return NULL;
		return &no_free_ptr(link)->pf0.base_tsm;
	}

	struct teeio_fn_link *fn_link __free(kfree) = kzalloc_obj(*fn_link);
	if (!fn_link)
		return NULL;
	rc = pci_tsm_link_constructor(pdev, &fn_link->base, tsm_dev);
	if (rc)
		return NULL;
	return &no_free_ptr(fn_link)->base;
}

static void teeio_remove(struct pci_tsm *tsm)
{
	struct pci_dev *pdev = tsm->pdev;

	if (is_pci_tsm_pf0(pdev) && tsm->dsm_dev == pdev) {
		struct teeio_link *link =
			container_of(tsm, struct teeio_link, pf0.base_tsm);

		pci_tsm_pf0_destructor(&link->pf0);
		kfree(link);
		return;
	}
	kfree(container_of(tsm, struct teeio_fn_link, base));
}

static int teeio_connect(struct pci_dev *pdev)
{
	return teeio_bridge_connect(bridge_of(pdev->tsm->tsm_dev), pdev);
}

static void teeio_disconnect(struct pci_dev *pdev)
{
	teeio_bridge_disconnect(bridge_of(pdev->tsm->tsm_dev), pdev);
}

static struct teeio_bind_offset *bind_offset_find(struct pci_dev *pdev)
{
	struct teeio_bind_offset *o;

	lockdep_assert_held(&teeio_bind_offsets_lock);
	list_for_each_entry(o, &teeio_bind_offsets, node)
		if (o->pdev == pdev)
			return o;
	return NULL;
}

int teeio_tsm_bind_mmio_offset(struct pci_dev *pdev, u64 offset)
{
	struct teeio_bind_offset *o;

	if (!IS_ALIGNED(offset, SZ_4K))
		return -EINVAL;
	guard(mutex)(&teeio_bind_offsets_lock);
	o = bind_offset_find(pdev);
	if (!offset) {
		if (o) {
			list_del(&o->node);
			kfree(o);
		}
		return 0;
	}
	if (!o) {
		o = kzalloc_obj(*o);
		if (!o)
			return -ENOMEM;
		o->pdev = pdev;
		list_add(&o->node, &teeio_bind_offsets);
	}
	o->offset = offset;
	return 0;
}
EXPORT_SYMBOL_GPL(teeio_tsm_bind_mmio_offset);

static u64 bind_offset_of(struct pci_dev *pdev)
{
	struct teeio_bind_offset *o;

	guard(mutex)(&teeio_bind_offsets_lock);
	o = bind_offset_find(pdev);
	return o ? o->offset : 0;
}

static struct pci_tdi *teeio_bind(struct pci_dev *pdev, struct kvm *kvm,
				  u32 tdi_id)
{
	struct teeio_tdi *tdi __free(kfree) = kzalloc_obj(*tdi);
	int rc;

	if (!tdi)
		return ERR_PTR(-ENOMEM);
	rc = teeio_bridge_bind(bridge_of(pdev->tsm->tsm_dev), pdev, kvm, tdi_id,
			       bind_offset_of(pdev), &tdi->tvm);
	if (rc)
		return ERR_PTR(rc);
	pci_tsm_tdi_constructor(pdev, &tdi->base, kvm, tdi_id);
	return &no_free_ptr(tdi)->base;
}

static void teeio_unbind(struct pci_tdi *base)
{
	struct teeio_tdi *tdi = container_of(base, struct teeio_tdi, base);
	struct pci_dev *pdev = base->pdev;

	teeio_bridge_unbind(bridge_of(pdev->tsm->tsm_dev), pdev, base->kvm,
			    base->tdi_id, tdi->tvm);
	kfree(tdi);
}

static ssize_t teeio_guest_req(struct pci_tdi *base,
			       enum pci_tsm_req_scope scope, sockptr_t req_in,
			       size_t in_len, sockptr_t req_out, size_t out_len,
			       u64 *tsm_code)
{
	struct teeio_tdi *tdi = container_of(base, struct teeio_tdi, base);
	struct pci_dev *pdev = base->pdev;
	u64 code = 0;
	ssize_t rc;

	if (in_len > TEEIO_GUEST_REQ_MAX || out_len > TEEIO_GUEST_REQ_MAX) {
		pci_warn(pdev, "guest request of %zu/%zu bytes refused\n",
			 in_len, out_len);
		return -E2BIG;
	}

	void *in __free(kvfree) = kvzalloc(in_len ?: 1, GFP_KERNEL);
	void *out __free(kvfree) = kvzalloc(out_len ?: 1, GFP_KERNEL);
	if (!in || !out)
		return -ENOMEM;
	if (copy_from_sockptr(in, req_in, in_len))
		return -EFAULT;

	rc = teeio_bridge_guest_req(bridge_of(pdev->tsm->tsm_dev), pdev,
				    tdi->tvm, base->tdi_id, scope, in, in_len,
				    out, out_len, &code);
	if (tsm_code)
		*tsm_code = code;
	if (rc < 0)
		return rc;
	/* rc: bytes of @out filled; the core's contract wants the residue. */
	if (rc && copy_to_sockptr(req_out, out, rc))
		return -EFAULT;
	return out_len - rc;
}

static struct pci_tsm_ops teeio_pci_tsm_ops = {
	.probe = teeio_probe,
	.remove = teeio_remove,
	.connect = teeio_connect,
	.disconnect = teeio_disconnect,
	.bind = teeio_bind,
	.unbind = teeio_unbind,
	.guest_req = teeio_guest_req,
};

struct pci_ide *teeio_bridge_ide_setup(struct pci_dev *pdev)
{
	struct pci_dev *rp = pcie_find_root_port(pdev);
	int rc;

	if (!rp)
		return ERR_PTR(-ENXIO);
	struct pci_ide *ide __free(pci_ide_stream_release) =
		pci_ide_stream_alloc(pdev);
	if (!ide) {
		pci_warn(pdev, "no IDE stream resources\n");
		return ERR_PTR(-ENOSPC);
	}
	/* One stream per device: the host bridge's stream index is unique. */
	ide->stream_id = ide->host_bridge_stream;
	rc = pci_ide_stream_register(ide);
	if (rc)
		return ERR_PTR(rc);
	pci_ide_stream_setup(pdev, ide);
	pci_ide_stream_setup(rp, ide);
	return no_free_ptr(ide);
}

int teeio_bridge_ide_enable(struct pci_dev *pdev, struct pci_ide *ide)
{
	struct pci_dev *rp = pcie_find_root_port(pdev);
	int rc;

	rc = pci_ide_stream_enable(pdev, ide);
	if (rc)
		return rc;
	return pci_ide_stream_enable(rp, ide);
}

void teeio_bridge_ide_release(struct pci_ide *ide)
{
	pci_ide_stream_release(ide);
}

u8 teeio_bridge_ide_stream_id(const struct pci_ide *ide)
{
	return ide->stream_id;
}

u32 teeio_bridge_pci_id(struct pci_dev *pdev)
{
	return (u32)pci_domain_nr(pdev->bus) << 16 | pci_dev_id(pdev);
}

u32 teeio_bridge_root_port_id(struct pci_dev *pdev)
{
	struct pci_dev *rp = pcie_find_root_port(pdev);

	return rp ? teeio_bridge_pci_id(rp) : 0;
}

void teeio_bridge_set_ide(struct pci_dev *pdev, struct pci_ide *ide)
{
	to_link(pdev)->ide = ide;
}

struct pci_ide *teeio_bridge_take_ide(struct pci_dev *pdev)
{
	struct teeio_link *link = to_link(pdev);

	return link ? xchg(&link->ide, NULL) : NULL;
}

struct pci_dev *teeio_bridge_dsm_dev(struct pci_dev *pdev)
{
	return pdev->tsm ? pdev->tsm->dsm_dev : NULL;
}

static int teeio_fw_probe(struct platform_device *pdev)
{
	const struct teeio_tsm_fw *fw = dev_get_platdata(&pdev->dev);
	struct teeio_bridge_dev *bdev;
	void *bridge;

	if (!fw || fw->abi_version != TEEIO_TSM_FW_ABI_VERSION || !fw->call) {
		dev_err(&pdev->dev, "platform TSM call ABI missing or not version %d\n",
			TEEIO_TSM_FW_ABI_VERSION);
		return -ENODEV;
	}
	bdev = devm_kzalloc(&pdev->dev, sizeof(*bdev), GFP_KERNEL);
	if (!bdev)
		return -ENOMEM;
	bridge = teeio_bridge_attach(&pdev->dev, fw);
	if (IS_ERR(bridge))
		return PTR_ERR(bridge);
	bdev->bridge = bridge;
	platform_set_drvdata(pdev, bdev);

	bdev->tsm_dev = tsm_register(&pdev->dev, &teeio_pci_tsm_ops);
	if (IS_ERR(bdev->tsm_dev)) {
		int rc = PTR_ERR(bdev->tsm_dev);

		dev_err(&pdev->dev, "tsm_register failed: %d\n", rc);
		teeio_bridge_detach(bridge);
		return rc;
	}
	scoped_guard(mutex, &teeio_bridges_lock)
		list_add_tail(&bdev->node, &teeio_bridges);
	dev_info(&pdev->dev, "host TSM bridge registered %s\n",
		 dev_name(&bdev->tsm_dev->dev));
	return 0;
}

static void teeio_fw_remove(struct platform_device *pdev)
{
	struct teeio_bridge_dev *bdev = platform_get_drvdata(pdev);

	scoped_guard(mutex, &teeio_bridges_lock)
		list_del(&bdev->node);
	/* Upstream pci_tsm_unregister(): unbind and disconnect everything. */
	tsm_unregister(bdev->tsm_dev);
	teeio_bridge_detach(bdev->bridge);
	dev_info(&pdev->dev, "host TSM bridge unregistered\n");
}

static struct platform_driver teeio_fw_driver = {
	.driver = {
		.name = TEEIO_TSM_FW_DEVICE_NAME,
	},
	.probe = teeio_fw_probe,
	.remove = teeio_fw_remove,
};

int teeio_tsm_vm_release(struct kvm *kvm)
{
	struct teeio_bridge_dev *bdev;
	int rc = -ENOENT;

	guard(mutex)(&teeio_bridges_lock);
	list_for_each_entry(bdev, &teeio_bridges, node)
		if (!teeio_bridge_vm_release(bdev->bridge, kvm))
			rc = 0;
	return rc;
}
EXPORT_SYMBOL_GPL(teeio_tsm_vm_release);

int teeio_tsm_vm_import_mmio(struct kvm *kvm, u32 slot, u64 gpa,
			     struct dma_buf *dmabuf)
{
	struct teeio_bridge_dev *bdev;
	int rc = -ENOENT;

	guard(mutex)(&teeio_bridges_lock);
	list_for_each_entry(bdev, &teeio_bridges, node) {
		rc = teeio_bridge_import_mmio(bdev->bridge, kvm, slot, gpa, dmabuf);
		if (rc != -ENOENT)
			break;
	}
	return rc;
}
EXPORT_SYMBOL_GPL(teeio_tsm_vm_import_mmio);

/**
 * struct teeio_mmio_exporter - a device's registered MMIO exporter
 * @node: in teeio_mmio_exporters
 * @pdev: the device
 * @ops: its callbacks
 * @data: their argument
 */
struct teeio_mmio_exporter {
	struct list_head node;
	struct pci_dev *pdev;
	const struct teeio_tsm_mmio_exporter_ops *ops;
	void *data;
};

/* The registered exporters; held across their callbacks. */
static LIST_HEAD(teeio_mmio_exporters);
static DEFINE_MUTEX(teeio_mmio_exporters_lock);

static struct teeio_mmio_exporter *teeio_mmio_exporter_find(struct pci_dev *pdev)
{
	struct teeio_mmio_exporter *e;

	lockdep_assert_held(&teeio_mmio_exporters_lock);
	list_for_each_entry(e, &teeio_mmio_exporters, node)
		if (e->pdev == pdev)
			return e;
	return NULL;
}

int teeio_tsm_mmio_exporter_register(struct pci_dev *pdev,
				     const struct teeio_tsm_mmio_exporter_ops *ops,
				     void *data)
{
	struct teeio_mmio_exporter *e;

	guard(mutex)(&teeio_mmio_exporters_lock);
	if (teeio_mmio_exporter_find(pdev))
		return -EEXIST;
	if (pdev->tsm && READ_ONCE(pdev->tsm->tdi)) {
		pci_info(pdev, "MMIO exporter refused: the TDI is bound already\n");
		return -EBUSY;
	}
	e = kzalloc_obj(*e);
	if (!e)
		return -ENOMEM;
	*e = (struct teeio_mmio_exporter){ .pdev = pdev, .ops = ops, .data = data };
	list_add_tail(&e->node, &teeio_mmio_exporters);
	return 0;
}
EXPORT_SYMBOL_GPL(teeio_tsm_mmio_exporter_register);

void teeio_tsm_mmio_exporter_unregister(struct pci_dev *pdev)
{
	struct teeio_mmio_exporter *e;

	guard(mutex)(&teeio_mmio_exporters_lock);
	e = teeio_mmio_exporter_find(pdev);
	if (!e)
		return;
	list_del(&e->node);
	kfree(e);
}
EXPORT_SYMBOL_GPL(teeio_tsm_mmio_exporter_unregister);

bool teeio_bridge_exporter_notify(struct pci_dev *pdev, u32 event)
{
	struct teeio_mmio_exporter *e;

	guard(mutex)(&teeio_mmio_exporters_lock);
	e = teeio_mmio_exporter_find(pdev);
	if (!e)
		return false;
	switch (event) {
	case TEEIO_BRIDGE_EXPORTER_LOCKED:
		e->ops->locked(e->data);
		break;
	case TEEIO_BRIDGE_EXPORTER_REVOKE:
		e->ops->revoke(e->data);
		break;
	default:
		e->ops->recover(e->data);
		break;
	}
	return true;
}

int teeio_bridge_driver_register(void)
{
	return platform_driver_register(&teeio_fw_driver);
}

void teeio_bridge_driver_unregister(void)
{
	platform_driver_unregister(&teeio_fw_driver);
}
