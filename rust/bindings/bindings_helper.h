/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel APIs the teeio modules call that the kernel crate's own bindings
 * do not cover. Only the items allowlisted in bindgen_parameters are
 * generated; the types they refer to come from kernel::bindings.
 */
#include <linux/dma-buf.h>
#include <linux/iommufd.h>
#include <linux/pci-doe.h>
#include <linux/pci-ide.h>
#include <linux/pci-tsm.h>
#include <linux/pci_ids.h>
#include <linux/tsm.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

/* The emulated platform TSM's call ABI and the guest request uAPI. */
#include "../../include/teeio/tsm_fw.h"
#include "../../include/uapi/linux/teeio_tsm.h"

/* The emulated TSM's importer edge. */
#include "../../drivers/tsm_emu/stage2_edge.h"

/* The host TSM bridge's C edge and kAPI. */
#include "../../include/teeio/tsm_bridge.h"

#include "../../tsm/host_bridge/pci_tsm_glue.h"

/* The IOASID core's ABI and C edge. */
#include "../../iommufd/ioasid/ioasid_edge.h"

/* The iommufd TSM extension's uAPI and C edge. */
#include "../../iommufd/tsm_ext/ext_edge.h"

/* The guest TDISP accept driver's uAPI and C edge. */
#include "../../include/uapi/linux/teeio_tdisp_guest.h"
#include "../../tsm/guest/guest_edge.h"

/* The VFIO variant driver's uAPI and C edge. */
#include "../../include/uapi/linux/teeio_vfio.h"
#include "../../vfio/vfio_edge.h"
