// SPDX-License-Identifier: GPL-2.0
/*
 * Test hooks for the PCI/TSM bind and guest-request kAPIs, which no uAPI
 * reaches yet: debugfs teeio_tsm_test/control takes one command per write,
 * teeio_tsm_test/result holds the last command's outcome.
 *
 *   bind BDF VM TDI_ID        pci_tsm_bind(BDF, test VM cookie VM, TDI_ID)
 *   unbind BDF                pci_tsm_unbind(BDF)
 *   req BDF SCOPE OP TDI_ID ARG0 ARG1 [OUT_LEN]
 *                             pci_tsm_guest_req() with a teeio guest request
 *   raw BDF SCOPE LEN         pci_tsm_guest_req() with LEN zero bytes
 *   state BDF                 TDISP state of BDF from the emulated platform
 *                             TSM's host view (EMULATION-specific)
 *   vmfree VM                 teeio_tsm_vm_release(VM): the VM goes away
 *                             before it unbound (bridge looked up at run
 *                             time, so either module unloads freely)
 *
 * A write returns the command's errno. result reads
 * "rc=<rc> tsm_code=<code> len=<bytes>" and the bytes in hex.
 * VM cookies are addresses in this module, as a VMM's struct kvm would be.
 * Unloading unbinds what this module bound.
 */
#include <linux/debugfs.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/pci-tsm.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <linux/sockptr.h>
#include "../../include/uapi/linux/teeio_tsm.h"

#include "../../include/teeio/tsm_bridge.h"
#include "../../include/teeio/tsm_fw.h"

#define NR_VMS 4
#define OUT_MAX 4096

static u8 vm_cookies[NR_VMS];
static struct dentry *dir;
static DEFINE_MUTEX(lock);
static char result[32 + 2 * OUT_MAX + 2];
static struct pci_dev *bound[16];

static struct pci_dev *lookup(const char *bdf)
{
	unsigned int seg, bus, slot, fn;

	if (sscanf(bdf, "%x:%x:%x.%x", &seg, &bus, &slot, &fn) != 4)
		return NULL;
	return pci_get_domain_bus_and_slot(seg, bus, PCI_DEVFN(slot, fn));
}

static void set_result(long rc, u64 code, const u8 *out, size_t len)
{
	int n = scnprintf(result, sizeof(result), "rc=%ld tsm_code=%lld len=%zu\n",
			  rc, (s64)code, len);

	for (size_t i = 0; i < len && n + 3 < sizeof(result); i++)
		n += scnprintf(result + n, sizeof(result) - n, "%02x", out[i]);
	scnprintf(result + n, sizeof(result) - n, "\n");
}

static void track(struct pci_dev *pdev)
{
	for (int i = 0; i < ARRAY_SIZE(bound); i++) {
		if (bound[i] == pdev)
			return;
		if (!bound[i]) {
			bound[i] = pci_dev_get(pdev);
			return;
		}
	}
}

static int doe_transfer(void *ctx, u8 type, const void *req, size_t req_len,
			void *resp, size_t resp_len)
{
	return pci_tsm_doe_transfer(ctx, type, req, req_len, resp, resp_len);
}

/* EMULATION: ask the emulated platform TSM for its host view of a TDI. */
static long tdi_state(struct pci_dev *pdev)
{
	struct device *fwdev = bus_find_device_by_name(&platform_bus_type, NULL,
						       TEEIO_TSM_FW_DEVICE_NAME);
	struct teeio_tsm_fw_call call = {
		.fid = TEEIO_TSM_GET_HOST_INTERFACE_STATE,
		.caller = TEEIO_TSM_CALLER_HOST,
		.device = (u32)pci_domain_nr(pdev->bus) << 16 | pci_dev_id(pdev),
		.tdi = (u32)pci_domain_nr(pdev->bus) << 16 | pci_dev_id(pdev),
		.doe = doe_transfer,
		.doe_ctx = pdev,
	};
	const struct teeio_tsm_fw *fw;
	long status;

	if (!fwdev)
		return -ENODEV;
	fw = dev_get_platdata(fwdev);
	status = fw && fw->call ? fw->call(fw->firmware, &call) : -ENODEV;
	put_device(fwdev);
	return status ? -EIO : call.ret;
}

static long run(char *cmd)
{
	char verb[8], bdf[16];
	unsigned int vm, tdi_id, scope, op, out_len = OUT_MAX, in_len;
	unsigned long long arg0, arg1;
	long rc = -EINVAL;
	u64 code = 0;

	if (sscanf(cmd, "vmfree %u", &vm) == 1) {
		int (*release)(struct kvm *kvm);

		if (vm >= NR_VMS)
			return -EINVAL;
		release = symbol_get(teeio_tsm_vm_release);
		if (!release)
			return -ENODEV;
		rc = release((struct kvm *)&vm_cookies[vm]);
		symbol_put(teeio_tsm_vm_release);
		set_result(rc, 0, NULL, 0);
		return rc;
	}
	if (sscanf(cmd, "%7s %15s", verb, bdf) != 2)
		return -EINVAL;
	struct pci_dev *pdev __free(pci_dev_put) = lookup(bdf);
	if (!pdev)
		return -ENODEV;

	if (!strcmp(verb, "bind")) {
		if (sscanf(cmd, "%*s %*s %u %x", &vm, &tdi_id) != 2 || vm >= NR_VMS)
			return -EINVAL;
		rc = pci_tsm_bind(pdev, (struct kvm *)&vm_cookies[vm], tdi_id);
		if (!rc)
			track(pdev);
		set_result(rc, 0, NULL, 0);
	} else if (!strcmp(verb, "unbind")) {
		pci_tsm_unbind(pdev);
		rc = 0;
		set_result(rc, 0, NULL, 0);
	} else if (!strcmp(verb, "state")) {
		rc = tdi_state(pdev);
		set_result(rc, 0, NULL, 0);
		rc = rc < 0 ? rc : 0;
	} else if (!strcmp(verb, "req") || !strcmp(verb, "raw")) {
		struct teeio_tsm_guest_req req = { .version = TEEIO_TSM_GUEST_REQ_VERSION };
		void *in = &req;

		if (!strcmp(verb, "req")) {
			int n = sscanf(cmd, "%*s %*s %u %u %x %llx %llx %u", &scope, &op,
				       &tdi_id, &arg0, &arg1, &out_len);
			if (n < 5 || out_len > OUT_MAX)
				return -EINVAL;
			req.op = op;
			req.tdi_id = tdi_id;
			req.arg0 = arg0;
			req.arg1 = arg1;
			in_len = sizeof(req);
		} else {
			if (sscanf(cmd, "%*s %*s %u %u", &scope, &in_len) != 2 ||
			    in_len > OUT_MAX)
				return -EINVAL;
		}
		u8 *out __free(kfree) = kzalloc(OUT_MAX, GFP_KERNEL);
		u8 *raw __free(kfree) = kzalloc(OUT_MAX, GFP_KERNEL);
		if (!out || !raw)
			return -ENOMEM;
		if (!strcmp(verb, "raw"))
			in = raw;
		rc = pci_tsm_guest_req(pdev, scope, KERNEL_SOCKPTR(in), in_len,
				       KERNEL_SOCKPTR(out), out_len, &code);
		/* rc >= 0 is the residue of out_len. */
		set_result(rc, code, out, rc >= 0 ? out_len - rc : 0);
		rc = rc < 0 ? rc : 0;
	}
	return rc;
}

static ssize_t control_write(struct file *file, const char __user *ubuf,
			     size_t len, loff_t *ppos)
{
	long rc;

	if (len >= 128)
		return -E2BIG;
	char *cmd __free(kfree) = memdup_user_nul(ubuf, len);
	if (IS_ERR(cmd))
		return PTR_ERR(cmd);
	guard(mutex)(&lock);
	rc = run(cmd);
	if (rc)
		set_result(rc, 0, NULL, 0);
	return rc ?: len;
}

static ssize_t result_read(struct file *file, char __user *ubuf, size_t len,
			   loff_t *ppos)
{
	guard(mutex)(&lock);
	return simple_read_from_buffer(ubuf, len, ppos, result, strlen(result));
}

static const struct file_operations control_fops = {
	.owner = THIS_MODULE,
	.write = control_write,
};

static const struct file_operations result_fops = {
	.owner = THIS_MODULE,
	.read = result_read,
};

static int __init teeio_tsm_test_init(void)
{
	dir = debugfs_create_dir("teeio_tsm_test", NULL);
	debugfs_create_file("control", 0200, dir, NULL, &control_fops);
	debugfs_create_file("result", 0400, dir, NULL, &result_fops);
	return 0;
}

static void __exit teeio_tsm_test_exit(void)
{
	debugfs_remove_recursive(dir);
	for (int i = 0; i < ARRAY_SIZE(bound) && bound[i]; i++) {
		pci_tsm_unbind(bound[i]);
		pci_dev_put(bound[i]);
	}
}

module_init(teeio_tsm_test_init);
module_exit(teeio_tsm_test_exit);
MODULE_DESCRIPTION("teeio test hooks for the PCI/TSM bind and guest request kAPIs");
MODULE_LICENSE("GPL");
