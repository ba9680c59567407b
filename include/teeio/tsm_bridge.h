/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the host TSM bridge (teeio_tsm_bridge) offers other modules.
 */
#ifndef _TEEIO_TSM_BRIDGE_H
#define _TEEIO_TSM_BRIDGE_H

struct kvm;

/*
 * The VM @kvm is going away before it unbound its TDIs: every TDI it has
 * bound is torn down in order now (CPU, DEVICE, IOMMU, LAST) by freeing
 * its IOASID set; the unbinds that follow find nothing left to do.
 * Returns 0, or -ENOENT when no TSM has a TVM for @kvm.
 */
int teeio_tsm_vm_release(struct kvm *kvm);

#endif /* _TEEIO_TSM_BRIDGE_H */
