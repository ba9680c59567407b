/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C edge of the guest TDISP accept driver: module parameters, the
 * guest channel's character device, the devsec TSM device, the per-device
 * sysfs group and the driver-core calls. The driver itself is Rust.
 */
#ifndef _TEEIO_GUEST_EDGE_H
#define _TEEIO_GUEST_EDGE_H

#include <linux/types.h>

struct file;
struct pci_dev;
struct poll_table_struct;

/* The attributes of a device's tsm_guest/ group. */
enum teeio_guest_attr {
	TEEIO_GUEST_ATTR_LOCK,
	TEEIO_GUEST_ATTR_ACCEPT,
	TEEIO_GUEST_ATTR_UNLOCK,
	TEEIO_GUEST_ATTR_STATE,
	TEEIO_GUEST_ATTR_REASON,
	TEEIO_GUEST_ATTR_MEASUREMENTS,
	TEEIO_GUEST_ATTR_POLICY,
};

/* Provided by Rust (guest_main.rs, channel.rs). */
int teeio_guest_channel_open(void *channel);
void teeio_guest_channel_release(void *channel);
ssize_t teeio_guest_channel_read(void *channel, char __user *buf, size_t len,
				 bool nonblock);
ssize_t teeio_guest_channel_write(void *channel, const char __user *buf,
				  size_t len);
__poll_t teeio_guest_channel_poll(void *channel, struct file *file,
				  struct poll_table_struct *wait);
int teeio_guest_tdi_lock(void *tdi);
bool teeio_guest_tdi_is_locked(void *tdi);
void teeio_guest_tdi_unlock(void *tdi);
ssize_t teeio_guest_tdi_show(void *tdi, u32 attr, char *buf);
ssize_t teeio_guest_tdi_store(void *tdi, u32 attr, const char *buf,
			      size_t len);

/* Provided by C (guest_edge.c). */
const char *teeio_guest_param_device(int i);
u32 teeio_guest_param_timeout_ms(void);
int teeio_guest_channel_register(void *channel);
void teeio_guest_channel_unregister(void);
int teeio_guest_tsm_register(void);
void teeio_guest_tsm_unregister(void);
struct pci_dev *teeio_guest_pci_get(const char *name);
void teeio_guest_pci_put(struct pci_dev *pdev);
int teeio_guest_fn_add(struct pci_dev *pdev, void *tdi);
void teeio_guest_fn_remove_all(void);
bool teeio_guest_has_driver(struct pci_dev *pdev);
ssize_t teeio_guest_driver_override(struct pci_dev *pdev, char *buf,
				    size_t len);
int teeio_guest_set_driver_override(struct pci_dev *pdev, const char *name);
int teeio_guest_attach_driver(struct pci_dev *pdev);
void teeio_guest_release_driver(struct pci_dev *pdev);

#endif /* _TEEIO_GUEST_EDGE_H */
