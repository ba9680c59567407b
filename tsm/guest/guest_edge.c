// SPDX-License-Identifier: GPL-2.0
/*
 * The C edge of the guest TDISP accept driver: module parameters, the
 * character device the VMM services guest requests on, the devsec TSM
 * device registered with tsm-core, each device's tsm_guest/ sysfs group
 * (whose lock and unlock go through the devsec pci_tsm_ops, as the PCI/TSM
 * core would call them) and the driver-core calls. The driver is Rust
 * (guest_main.rs).
 */
#include <linux/device.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/pci.h>
#include <linux/pci-tsm.h>
#include <linux/platform_device.h>
#include <linux/poll.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/tsm.h>

#include "guest_edge.h"

#define TEEIO_GUEST_MAX_DEVICES 4

static char *devices[TEEIO_GUEST_MAX_DEVICES];
static int nr_devices;
module_param_array(devices, charp, &nr_devices, 0444);
MODULE_PARM_DESC(devices,
		 "EMULATION: PCI functions that are this TVM's view of TDIs, as DDDD:BB:DD.F (at most 4)");

static unsigned int timeout_ms = 10000;
module_param(timeout_ms, uint, 0644);
MODULE_PARM_DESC(timeout_ms, "how long a guest request waits for the VMM (ms)");

const char *teeio_guest_param_device(int i)
{
	return i >= 0 && i < nr_devices ? devices[i] : NULL;
}

u32 teeio_guest_param_timeout_ms(void)
{
	return READ_ONCE(timeout_ms);
}

/* ---- the guest channel: /dev/teeio-tdisp-guest ---- */

static void *teeio_guest_channel;

static int teeio_guest_fop_open(struct inode *inode, struct file *file)
{
	int rc = teeio_guest_channel_open(teeio_guest_channel);

	if (rc)
		return rc;
	file->private_data = teeio_guest_channel;
	return stream_open(inode, file);
}

static int teeio_guest_fop_release(struct inode *inode, struct file *file)
{
	teeio_guest_channel_release(file->private_data);
	return 0;
}

static ssize_t teeio_guest_fop_read(struct file *file, char __user *buf,
				    size_t len, loff_t *ppos)
{
	return teeio_guest_channel_read(file->private_data, buf, len,
					file->f_flags & O_NONBLOCK);
}

static ssize_t teeio_guest_fop_write(struct file *file, const char __user *buf,
				     size_t len, loff_t *ppos)
{
	return teeio_guest_channel_write(file->private_data, buf, len);
}

static __poll_t teeio_guest_fop_poll(struct file *file,
				     struct poll_table_struct *wait)
{
	return teeio_guest_channel_poll(file->private_data, file, wait);
}

static const struct file_operations teeio_guest_fops = {
	.owner = THIS_MODULE,
	.open = teeio_guest_fop_open,
	.release = teeio_guest_fop_release,
	.read = teeio_guest_fop_read,
	.write = teeio_guest_fop_write,
	.poll = teeio_guest_fop_poll,
};

static struct miscdevice teeio_guest_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "teeio-tdisp-guest",
	.fops = &teeio_guest_fops,
	.mode = 0600,
};

int teeio_guest_channel_register(void *channel)
{
	teeio_guest_channel = channel;
	return misc_register(&teeio_guest_misc);
}

void teeio_guest_channel_unregister(void)
{
	misc_deregister(&teeio_guest_misc);
}

/* ---- the devsec TSM and each device's tsm_guest/ group ---- */

/* A device this TVM sees as a TDI: its TSM context and the Rust driver. */
struct teeio_guest_fn {
	struct pci_dev *pdev;
	struct pci_tsm tsm;
	void *tdi;
};

static struct teeio_guest_fn teeio_guest_fns[TEEIO_GUEST_MAX_DEVICES];
static int teeio_guest_nr_fns;
static struct platform_device *teeio_guest_pdev;
static struct tsm_dev *teeio_guest_tsm_dev;

static struct teeio_guest_fn *fn_of(struct pci_dev *pdev)
{
	for (int i = 0; i < teeio_guest_nr_fns; i++)
		if (teeio_guest_fns[i].pdev == pdev)
			return &teeio_guest_fns[i];
	return NULL;
}

static struct pci_tsm *teeio_devsec_lock(struct tsm_dev *tsm_dev,
					 struct pci_dev *pdev)
{
	struct teeio_guest_fn *fn = fn_of(pdev);
	int rc;

	if (!fn)
		return ERR_PTR(-ENODEV);
	rc = teeio_guest_tdi_lock(fn->tdi);
	if (rc)
		return ERR_PTR(rc);
	fn->tsm.pdev = pdev;
	fn->tsm.dsm_dev = pdev;
	fn->tsm.tsm_dev = tsm_dev;
	return &fn->tsm;
}

static void teeio_devsec_unlock(struct pci_tsm *tsm)
{
	struct teeio_guest_fn *fn = container_of(tsm, struct teeio_guest_fn, tsm);

	teeio_guest_tdi_unlock(fn->tdi);
}

static struct pci_tsm_ops teeio_devsec_ops = {
	.lock = teeio_devsec_lock,
	.unlock = teeio_devsec_unlock,
};

int teeio_guest_tsm_register(void)
{
	struct tsm_dev *tsm_dev;

	teeio_guest_pdev = platform_device_register_simple("teeio-tdisp-guest",
							  PLATFORM_DEVID_NONE,
							  NULL, 0);
	if (IS_ERR(teeio_guest_pdev))
		return PTR_ERR(teeio_guest_pdev);
	tsm_dev = tsm_register(&teeio_guest_pdev->dev, &teeio_devsec_ops);
	if (IS_ERR(tsm_dev)) {
		platform_device_unregister(teeio_guest_pdev);
		return PTR_ERR(tsm_dev);
	}
	teeio_guest_tsm_dev = tsm_dev;
	return 0;
}

void teeio_guest_tsm_unregister(void)
{
	tsm_unregister(teeio_guest_tsm_dev);
	platform_device_unregister(teeio_guest_pdev);
}

/* Whether @buf names this TSM device ("tsmN", a newline allowed). */
static bool names_our_tsm(struct device *dev, const char *buf)
{
	const char *ours = dev_name(&teeio_guest_tsm_dev->dev);

	if (sysfs_streq(buf, ours))
		return true;
	dev_info(dev, "TDISP guest: not this TVM's TSM (%s)\n", ours);
	return false;
}

static ssize_t lock_store(struct device *dev, struct device_attribute *attr,
			  const char *buf, size_t len)
{
	struct teeio_guest_fn *fn = fn_of(to_pci_dev(dev));
	struct pci_tsm *tsm;

	if (!names_our_tsm(dev, buf))
		return -EINVAL;
	tsm = teeio_guest_tsm_dev->pci_ops->devsec_ops.lock(teeio_guest_tsm_dev,
							   fn->pdev);
	return IS_ERR(tsm) ? PTR_ERR(tsm) : len;
}

static ssize_t unlock_store(struct device *dev, struct device_attribute *attr,
			    const char *buf, size_t len)
{
	struct teeio_guest_fn *fn = fn_of(to_pci_dev(dev));

	if (!names_our_tsm(dev, buf))
		return -EINVAL;
	if (!teeio_guest_tdi_is_locked(fn->tdi)) {
		dev_info(dev, "TDISP guest: unlock: not locked\n");
		return -ENXIO;
	}
	teeio_guest_tsm_dev->pci_ops->devsec_ops.unlock(&fn->tsm);
	return len;
}

static ssize_t lock_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	struct teeio_guest_fn *fn = fn_of(to_pci_dev(dev));

	if (!teeio_guest_tdi_is_locked(fn->tdi))
		return sysfs_emit(buf, "\n");
	return sysfs_emit(buf, "%s\n", dev_name(&teeio_guest_tsm_dev->dev));
}

#define TEEIO_GUEST_RUST_ATTR(_name, _id)					\
static ssize_t _name##_show(struct device *dev,				\
			    struct device_attribute *attr, char *buf)	\
{									\
	return teeio_guest_tdi_show(fn_of(to_pci_dev(dev))->tdi, _id, buf); \
}									\
static ssize_t _name##_store(struct device *dev,			\
			     struct device_attribute *attr,		\
			     const char *buf, size_t len)		\
{									\
	return teeio_guest_tdi_store(fn_of(to_pci_dev(dev))->tdi, _id, buf, len); \
}

TEEIO_GUEST_RUST_ATTR(accept, TEEIO_GUEST_ATTR_ACCEPT)
TEEIO_GUEST_RUST_ATTR(state, TEEIO_GUEST_ATTR_STATE)
TEEIO_GUEST_RUST_ATTR(reason, TEEIO_GUEST_ATTR_REASON)
TEEIO_GUEST_RUST_ATTR(measurements, TEEIO_GUEST_ATTR_MEASUREMENTS)
TEEIO_GUEST_RUST_ATTR(policy, TEEIO_GUEST_ATTR_POLICY)

static DEVICE_ATTR_RW(lock);
static DEVICE_ATTR_WO(unlock);
static DEVICE_ATTR_RW(accept);
static DEVICE_ATTR_RO(state);
static DEVICE_ATTR_RO(reason);
static DEVICE_ATTR_RO(measurements);
static DEVICE_ATTR(policy, 0600, policy_show, policy_store);

static struct attribute *teeio_guest_attrs[] = {
	&dev_attr_lock.attr,
	&dev_attr_unlock.attr,
	&dev_attr_accept.attr,
	&dev_attr_state.attr,
	&dev_attr_reason.attr,
	&dev_attr_measurements.attr,
	&dev_attr_policy.attr,
	NULL,
};

static const struct attribute_group teeio_guest_group = {
	.name = "tsm_guest",
	.attrs = teeio_guest_attrs,
};

struct pci_dev *teeio_guest_pci_get(const char *name)
{
	struct device *dev = bus_find_device_by_name(&pci_bus_type, NULL, name);

	return dev ? to_pci_dev(dev) : NULL;
}

void teeio_guest_pci_put(struct pci_dev *pdev)
{
	pci_dev_put(pdev);
}

/* Adds @pdev's tsm_guest/ group, which holds a reference to @pdev. */
int teeio_guest_fn_add(struct pci_dev *pdev, void *tdi)
{
	struct teeio_guest_fn *fn;
	int rc;

	if (teeio_guest_nr_fns == TEEIO_GUEST_MAX_DEVICES || fn_of(pdev))
		return -EEXIST;
	fn = &teeio_guest_fns[teeio_guest_nr_fns];
	fn->pdev = pci_dev_get(pdev);
	fn->tdi = tdi;
	rc = sysfs_create_group(&pdev->dev.kobj, &teeio_guest_group);
	if (rc) {
		pci_dev_put(fn->pdev);
		fn->pdev = NULL;
		return rc;
	}
	teeio_guest_nr_fns++;
	return 0;
}

/* Removes every group, waiting for sysfs calls in progress; puts the devices. */
void teeio_guest_fn_remove_all(void)
{
	while (teeio_guest_nr_fns) {
		struct teeio_guest_fn *fn = &teeio_guest_fns[--teeio_guest_nr_fns];

		sysfs_remove_group(&fn->pdev->dev.kobj, &teeio_guest_group);
		pci_dev_put(fn->pdev);
		fn->pdev = NULL;
	}
}

/* ---- the driver core ---- */

bool teeio_guest_has_driver(struct pci_dev *pdev)
{
	return READ_ONCE(pdev->dev.driver);
}

/* Copies the device's driver_override ("" when unset) into @buf. */
ssize_t teeio_guest_driver_override(struct pci_dev *pdev, char *buf, size_t len)
{
	ssize_t n;

	guard(spinlock)(&pdev->dev.driver_override.lock);
	if (!pdev->dev.driver_override.name) {
		buf[0] = '\0';
		return 0;
	}
	n = strscpy(buf, pdev->dev.driver_override.name, len);
	return n < 0 ? -E2BIG : n;
}

int teeio_guest_set_driver_override(struct pci_dev *pdev, const char *name)
{
	return device_set_driver_override(&pdev->dev, name ? name : "");
}

/* Lets a driver bind to the device now; 1 when one did. */
int teeio_guest_attach_driver(struct pci_dev *pdev)
{
	return device_attach(&pdev->dev);
}

void teeio_guest_release_driver(struct pci_dev *pdev)
{
	device_release_driver(&pdev->dev);
}
