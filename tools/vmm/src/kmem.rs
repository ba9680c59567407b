// SPDX-License-Identifier: GPL-2.0

//! Kernel memory an operation leaves allocated, from the kmem trace events
//! (tracefs), on kernels that have them (the DEBUG=1 kernel does; the lean
//! release kernel has no tracing). Every slab and page allocation and free
//! in the window is recorded; what was allocated and not freed is what the
//! operation holds. Background allocations on other CPUs count too, so a
//! figure is an upper bound on a quiet machine.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where tracefs usually is.
pub const TRACING: &str = "/sys/kernel/tracing";

/// The events recorded.
const EVENTS: [&str; 6] = ["kmalloc", "kfree", "kmem_cache_alloc", "kmem_cache_free", "mm_page_alloc", "mm_page_free"];

/// What a window left allocated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Held {
    /// Slab objects still allocated.
    pub objects: u64,
    /// Bytes their callers asked for.
    pub bytes_req: u64,
    /// Bytes the allocator gave them.
    pub bytes_alloc: u64,
    /// Pages still allocated (page allocator, any order; new slab pages
    /// among them).
    pub pages: u64,
    /// The slab objects by call site: (site, objects, bytes asked for),
    /// most bytes first.
    pub sites: Vec<(String, u64, u64)>,
    /// Bytes of those the debug kernel's own records take (kmemleak).
    pub debug_bytes: u64,
}

/// Call sites of the debug kernel's own records (kmemleak's object per
/// tracked allocation), counted apart.
const DEBUG_SITES: [&str; 1] = ["__alloc_object+"];

/// A recording window over the kmem events.
pub struct Window {
    root: PathBuf,
    /// tracing_on while recording, kept open so that stopping allocates
    /// no file.
    on: Option<fs::File>,
}

impl Window {
    /// The window on tracefs at `root`, or `None` when the kernel has no
    /// kmem events there.
    pub fn new(root: &Path) -> Option<Self> {
        root.join("events/kmem/kmalloc").exists().then(|| Self { root: root.to_path_buf(), on: None })
    }

    fn write(&self, file: &str, text: &str) -> Result<()> {
        let path = self.root.join(file);
        fs::write(&path, text).map_err(|e| Error::file("write", &path, e))
    }

    /// Clears the buffer and starts recording.
    pub fn start(&mut self) -> Result<()> {
        self.write("tracing_on", "0")?;
        self.write("buffer_size_kb", "16384")?;
        self.write("trace", "")?;
        for event in EVENTS {
            self.write(&format!("events/kmem/{event}/enable"), "1")?;
        }
        let path = self.root.join("tracing_on");
        let mut on = fs::OpenOptions::new().write(true).open(&path).map_err(|e| Error::file("open", &path, e))?;
        on.write_all(b"1").map_err(|e| Error::file("write", &path, e))?;
        self.on = Some(on);
        Ok(())
    }

    /// Stops recording; what the window left allocated.
    pub fn stop(&mut self) -> Result<Held> {
        let path = self.root.join("tracing_on");
        match self.on.take() {
            Some(mut on) => on.write_all(b"0").map_err(|e| Error::file("write", &path, e))?,
            None => self.write("tracing_on", "0")?,
        }
        for event in EVENTS {
            self.write(&format!("events/kmem/{event}/enable"), "0")?;
        }
        let path = self.root.join("trace");
        let trace = fs::read_to_string(&path).map_err(|e| Error::file("read", &path, e))?;
        self.write("trace", "")?;
        Ok(held(&trace))
    }
}

/// The value of `key=` in `fields`.
fn field<'a>(fields: &'a str, key: &str) -> Option<&'a str> {
    fields.split_whitespace().find_map(|f| f.strip_prefix(key)?.strip_prefix('='))
}

fn number(fields: &str, key: &str) -> u64 {
    field(fields, key).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Parses a trace buffer: allocations not freed within it.
pub fn held(trace: &str) -> Held {
    let mut objects: HashMap<&str, (u64, u64, &str)> = HashMap::new();
    let mut pages: HashMap<&str, u64> = HashMap::new();
    for line in trace.lines().filter(|l| !l.starts_with('#')) {
        let Some((event, fields)) = EVENTS.iter().find_map(|e| {
            let at = line.find(&format!(" {e}: "))?;
            Some((*e, &line[at + e.len() + 3..]))
        }) else {
            continue;
        };
        match event {
            "kmalloc" | "kmem_cache_alloc" => {
                if let Some(ptr) = field(fields, "ptr") {
                    let site = field(fields, "call_site").unwrap_or("?");
                    objects.insert(ptr, (number(fields, "bytes_req"), number(fields, "bytes_alloc"), site));
                }
            }
            "kfree" | "kmem_cache_free" => {
                if let Some(ptr) = field(fields, "ptr") {
                    objects.remove(ptr);
                }
            }
            "mm_page_alloc" => {
                if let Some(pfn) = field(fields, "pfn") {
                    pages.insert(pfn, 1 << number(fields, "order"));
                }
            }
            _ => {
                if let Some(pfn) = field(fields, "pfn") {
                    pages.remove(pfn);
                }
            }
        }
    }
    let mut sites: HashMap<&str, (u64, u64)> = HashMap::new();
    for &(req, _, site) in objects.values() {
        let entry = sites.entry(site).or_default();
        entry.0 += 1;
        entry.1 += req;
    }
    let mut sites: Vec<(String, u64, u64)> = sites.into_iter().map(|(s, (n, b))| (s.to_string(), n, b)).collect();
    sites.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    let debug_bytes =
        sites.iter().filter(|(site, ..)| DEBUG_SITES.iter().any(|d| site.starts_with(d))).map(|s| s.2).sum();
    Held {
        debug_bytes,
        objects: objects.len() as u64,
        bytes_req: objects.values().map(|v| v.0).sum(),
        bytes_alloc: objects.values().map(|v| v.1).sum(),
        pages: pages.values().sum(),
        sites,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "\
# tracer: nop
 teeio-vmm-91 [001] ..... 10.1: kmalloc: call_site=a+0x1 ptr=000000001 bytes_req=40 bytes_alloc=64 gfp_flags=GFP_KERNEL node=-1 accounted=false
 teeio-vmm-91 [001] ..... 10.2: kmalloc: call_site=b+0x1 ptr=000000002 bytes_req=100 bytes_alloc=128 gfp_flags=GFP_KERNEL node=-1 accounted=false
 kworker/0:1-7 [000] ..... 10.3: kfree: call_site=c+0x1 ptr=000000002
 teeio-vmm-91 [001] ..... 10.4: kmem_cache_alloc: call_site=d+0x1 ptr=000000003 name=filp bytes_req=232 bytes_alloc=256 gfp_flags=GFP_KERNEL node=-1 accounted=true
 teeio-vmm-91 [001] ..... 10.5: kfree: call_site=e+0x1 ptr=000000009
 teeio-vmm-91 [001] ..... 10.6: mm_page_alloc: page=0000000x pfn=0x100 order=2 migratetype=0 gfp_flags=GFP_KERNEL
 teeio-vmm-91 [001] ..... 10.7: mm_page_alloc: page=0000000y pfn=0x200 order=0 migratetype=0 gfp_flags=GFP_KERNEL
 teeio-vmm-91 [001] ..... 10.8: mm_page_free: page=0000000y pfn=0x200 order=0
";

    #[test]
    fn what_was_not_freed_is_held() {
        // A free of something allocated before the window changes nothing.
        let h = held(TRACE);
        assert_eq!((h.objects, h.bytes_req, h.bytes_alloc, h.pages), (2, 272, 320, 4));
        assert_eq!(h.sites, vec![("d+0x1".to_string(), 1, 232), ("a+0x1".to_string(), 1, 40)]);
        assert_eq!(h.debug_bytes, 0);
        let debug = TRACE.replace("call_site=a+0x1", "call_site=__alloc_object+0x22/0x200");
        assert_eq!(held(&debug).debug_bytes, 40);
    }

    #[test]
    fn an_empty_window_holds_nothing() {
        assert_eq!(held("# tracer: nop\n"), Held::default());
        assert!(Window::new(Path::new("/nonexistent")).is_none());
    }
}
