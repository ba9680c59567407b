// SPDX-License-Identifier: GPL-2.0

//! Spots kernel reports on the serial console that fail a run by themselves.
//!
//! A test can pass while the kernel under it warns, leaks or oopses; any line
//! matched here fails the run whatever the results say.

/// Markers of kernel reports, matched anywhere in a console line.
const REPORT_MARKERS: &[(&str, &str)] = &[
    ("------------[ cut here ]------------", "WARN/BUG"),
    ("WARNING:", "WARN or lockdep report"),
    ("BUG:", "BUG, KASAN or sleeping-in-atomic report"),
    ("kernel BUG at", "BUG_ON"),
    ("Oops:", "oops"),
    ("general protection fault", "general protection fault"),
    ("Kernel panic", "panic"),
    ("panicked at", "Rust panic"),
    ("UBSAN:", "UBSAN report"),
    ("INFO: task", "hung task"),
    ("detected stalls", "RCU stall"),
    ("suspected memory leak", "kmemleak report"),
    ("unreferenced object 0x", "kmemleak report"),
    ("Call Trace:", "stack dump"),
];

/// Lines after a report that belong to it (a splat's header, registers and
/// stack), so that one splat is one report.
const REPORT_SPAN: usize = 60;

/// A console line that fails the run.
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    /// Zero-based index of the line in the console log.
    pub line: usize,
    /// What kind of report it starts.
    pub kind: &'static str,
}

/// Watches console lines as they stream in.
#[derive(Default)]
pub struct Watcher {
    lines: Vec<String>,
    reports: Vec<Report>,
}

impl Watcher {
    /// Records one console line.
    pub fn push(&mut self, line: &str) {
        let here = self.lines.len();
        let in_last_report = self.reports.last().is_some_and(|r| here - r.line < REPORT_SPAN);
        if let Some(&(_, kind)) = REPORT_MARKERS.iter().find(|(m, _)| line.contains(m)) {
            if !in_last_report {
                self.reports.push(Report { line: here, kind });
            }
        }
        self.lines.push(line.to_owned());
    }

    /// The reports seen so far.
    pub fn reports(&self) -> &[Report] {
        &self.reports
    }

    /// Whether any line so far contains `text`.
    pub fn saw(&self, text: &str) -> bool {
        self.lines.iter().any(|l| l.contains(text))
    }

    /// Number of lines seen.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// The lines around `line`: `before` lines ahead, `after` lines behind.
    pub fn excerpt(&self, line: usize, before: usize, after: usize) -> &[String] {
        let start = line.saturating_sub(before);
        let end = (line + after + 1).min(self.lines.len());
        &self.lines[start..end]
    }

    /// The last `count` lines.
    pub fn tail(&self, count: usize) -> &[String] {
        &self.lines[self.lines.len().saturating_sub(count)..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_warn_and_kmemleak() {
        let mut w = Watcher::default();
        w.push("[    1.000000] teeio: loaded");
        w.push("[    1.100000] ------------[ cut here ]------------");
        w.push("[    1.100001] WARNING: CPU: 0 PID: 1 at drivers/x.c:1 f+0x1/0x2");
        for _ in 0..REPORT_SPAN {
            w.push("    ? do_one_initcall+0xdb/0x280");
        }
        w.push("[    9.000000] kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)");
        // The WARN's own lines are one report; the leak, further on, another.
        let kinds: Vec<_> = w.reports().iter().map(|r| (r.line, r.kind)).collect();
        assert_eq!(kinds, vec![(1, "WARN/BUG"), (REPORT_SPAN + 3, "kmemleak report")]);
        assert_eq!(w.excerpt(1, 1, 1).len(), 3);
        assert_eq!(w.tail(2).len(), 2);
    }

    #[test]
    fn quiet_boot_has_no_report() {
        let mut w = Watcher::default();
        for line in [
            "[    0.000000] Linux version 7.3.4 (root@host) (clang version 19.1.7)",
            "[    0.500000] DMAR: IOMMU enabled",
            "[    0.600000] pci 0000:01:00.0: Adding to iommu group 3",
            "[    2.000000] KTAP version 1",
        ] {
            w.push(line);
        }
        assert!(w.reports().is_empty());
        assert!(w.saw("iommu group 3"));
    }

    #[test]
    fn finds_kasan_lockdep_and_rust_panic() {
        for line in [
            "BUG: KASAN: slab-use-after-free in teeio_free+0x10/0x20",
            "WARNING: possible circular locking dependency detected",
            "rust_kernel: panicked at lib/proto/src/tdisp.rs:1:1:",
            "Oops: general protection fault, probably for non-canonical address",
        ] {
            let mut w = Watcher::default();
            w.push(line);
            assert_eq!(w.reports().len(), 1, "{line}");
        }
    }
}
