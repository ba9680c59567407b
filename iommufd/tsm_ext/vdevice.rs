// SPDX-License-Identifier: GPL-2.0

//! A vDEVICE: a VFIO device as its VM sees it, with the TSM operations on
//! its TDI (bind, unbind, guest requests).

use kernel::error::to_result;
use kernel::prelude::*;
use kernel::sync::Arc;

use crate::b;
use crate::claims::Claim;
use crate::edge::VfioDevice;
use crate::viommu::Viommu;

/// A vDEVICE.
///
/// # Invariants
///
/// Tracked by `viommu` under `id` from creation to drop; the only vDEVICE
/// of its PCI device (`_claim`).
pub(crate) struct Vdevice {
    pub(crate) id: u32,
    pub(crate) viommu: Arc<Viommu>,
    pub(crate) virt_id: u32,
    pub(crate) device: VfioDevice,
    _claim: Claim,
}

impl Vdevice {
    pub(crate) fn new(id: u32, viommu: Arc<Viommu>, virt_id: u32, device: VfioDevice) -> Result<Self> {
        let claim = Claim::new(device.pdev())?;
        viommu.track(id, virt_id)?;
        // INVARIANT: tracked and claimed above.
        Ok(Self { id, viommu, virt_id, device, _claim: claim })
    }

    /// (bound, torn down).
    pub(crate) fn state(&self) -> (bool, bool) {
        self.viommu.state(self.id)
    }

    /// TSM BIND: the TDI locked for the vIOMMU's VM (pci_tsm_bind()), its
    /// MMIO offered where the VM sees it: `mmio_offset` past the host's.
    pub(crate) fn bind(&self, mmio_offset: u64) -> Result {
        if self.state().0 {
            return Err(EBUSY);
        }
        let pdev = self.device.pdev();
        // SAFETY: the device is alive while its VFIO file is held.
        to_result(unsafe { b::teeio_ext_bind_mmio_offset(pdev, mmio_offset) })?;
        self.viommu.binding(self.id);
        // SAFETY: as above; the VM identity is the vIOMMU's, alive as long
        // as it.
        let rc = unsafe { b::pci_tsm_bind(pdev, self.viommu.vm.identity(), self.virt_id) };
        if mmio_offset != 0 {
            // SAFETY: as above. Clearing cannot fail.
            unsafe { b::teeio_ext_bind_mmio_offset(pdev, 0) };
        }
        if rc != 0 {
            self.viommu.unbound(self.id);
            return Err(Error::from_errno(rc));
        }
        self.viommu.bound(self.id);
        Ok(())
    }

    /// TSM UNBIND: the ordered teardown, then the PCI/TSM core lets go.
    pub(crate) fn unbind(&self) -> Result {
        if !self.state().0 {
            return Err(ENXIO);
        }
        self.tear_down();
        Ok(())
    }

    fn tear_down(&self) {
        self.viommu.unbinding(self.id);
        // SAFETY: the device is alive while its VFIO file is held.
        unsafe { b::pci_tsm_unbind(self.device.pdev()) };
        self.viommu.unbound(self.id);
    }

    /// A guest request, passed to the TSM with `scope`. Returns the bytes
    /// written to `resp` and the TSM's status.
    pub(crate) fn request(&self, scope: u32, req: &[u8], resp: &mut [u8]) -> Result<(usize, u64)> {
        if !self.state().0 {
            return Err(ENXIO);
        }
        let stop = req.get(1) == Some(&(b::teeio_tsm_guest_op_TEEIO_TSM_GUEST_STOP as u8));
        self.viommu.request_begins(self.id, stop);
        let mut tsm_code = 0;
        // SAFETY: the device is alive while its VFIO file is held; the
        // buffers are valid for their lengths.
        let n = unsafe {
            b::teeio_ext_guest_req(
                self.device.pdev(),
                scope,
                req.as_ptr().cast(),
                req.len(),
                resp.as_mut_ptr().cast(),
                resp.len(),
                &mut tsm_code,
            )
        };
        self.viommu.request_ends(self.id);
        if n < 0 {
            return Err(Error::from_errno(n as i32));
        }
        // The PCI/TSM core returns the room left in the response.
        Ok((resp.len().saturating_sub(n as usize), tsm_code))
    }
}

impl Drop for Vdevice {
    fn drop(&mut self) {
        // Destroying a bound vDEVICE unbinds it first, in order.
        if self.state().0 {
            self.tear_down();
        }
        self.viommu.untrack(self.id);
    }
}
