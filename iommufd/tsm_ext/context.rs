// SPDX-License-Identifier: GPL-2.0

//! One open extension file: the iommufd context it is attached to and the
//! objects made through it, named by ids that are never reused while the
//! file is open.

use kernel::device::Device;
use kernel::prelude::*;
use kernel::sync::aref::ARef;
use kernel::sync::{new_mutex, Arc, Mutex};

use crate::edge::IommufdCtx;
use crate::vdevice::Vdevice;
use crate::veventq::EventQueue;
use crate::viommu::Viommu;

/// The objects of one extension file.
pub(crate) struct Objects {
    pub(crate) ictx: Option<IommufdCtx>,
    next_id: u32,
    pub(crate) viommus: KVec<Arc<Viommu>>,
    pub(crate) vdevices: KVec<Vdevice>,
    pub(crate) veventqs: KVec<Arc<EventQueue>>,
}

impl Objects {
    /// The attached iommufd context: -ENXIO before TEEIO_IOMMUFD_ATTACH.
    pub(crate) fn ictx(&self) -> Result<&IommufdCtx> {
        self.ictx.as_ref().ok_or(ENXIO)
    }

    /// A new object id: -ENOSPC when the file has used them all.
    pub(crate) fn new_id(&mut self) -> Result<u32> {
        let id = self.next_id;
        self.next_id = id.checked_add(1).ok_or(ENOSPC)?;
        Ok(id)
    }

    pub(crate) fn viommu(&self, id: u32) -> Result<&Arc<Viommu>> {
        self.viommus.iter().find(|v| v.id == id).ok_or(ENOENT)
    }

    pub(crate) fn vdevice(&self, id: u32) -> Result<&Vdevice> {
        self.vdevices.iter().find(|v| v.id == id).ok_or(ENOENT)
    }

    /// Destroys object `id`: -EBUSY while something depends on it, -ENOENT
    /// when there is no such object. A bound vDEVICE is unbound first.
    pub(crate) fn destroy(&mut self, id: u32) -> Result {
        if let Some(i) = self.vdevices.iter().position(|v| v.id == id) {
            drop(self.vdevices.remove(i)?);
            return Ok(());
        }
        if let Some(i) = self.veventqs.iter().position(|q| q.id == id) {
            if self.veventqs[i].file_open() {
                return Err(EBUSY);
            }
            let queue = self.veventqs.remove(i)?;
            if let Ok(viommu) = self.viommu(queue.viommu_id) {
                viommu.detach_queue();
            }
            return Ok(());
        }
        if let Some(i) = self.viommus.iter().position(|v| v.id == id) {
            let busy = self.vdevices.iter().any(|v| v.viommu.id == id) || self.veventqs.iter().any(|q| q.viommu_id == id);
            if busy {
                return Err(EBUSY);
            }
            drop(self.viommus.remove(i)?);
            return Ok(());
        }
        Err(ENOENT)
    }
}

impl Drop for Objects {
    /// Leaves first: vDEVICEs (each unbound in order if bound), vEVENTQs,
    /// vIOMMUs, then the iommufd context.
    fn drop(&mut self) {
        while let Some(vdevice) = self.vdevices.pop() {
            drop(vdevice);
        }
        for viommu in self.viommus.iter() {
            viommu.detach_queue();
        }
        self.veventqs.clear();
        while let Some(viommu) = self.viommus.pop() {
            drop(viommu);
        }
        self.ictx = None;
    }
}

/// An open extension file.
#[pin_data]
pub(crate) struct Context {
    pub(crate) dev: ARef<Device>,
    #[pin]
    pub(crate) objects: Mutex<Objects>,
}

impl Context {
    pub(crate) fn new(dev: ARef<Device>) -> impl PinInit<Self, Error> {
        let objects = Objects { ictx: None, next_id: 1, viommus: KVec::new(), vdevices: KVec::new(), veventqs: KVec::new() };
        try_pin_init!(Self {
            dev,
            objects <- new_mutex!(objects, "teeio_iommufd_objects"),
        })
    }
}
