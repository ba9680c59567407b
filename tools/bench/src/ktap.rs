// SPDX-License-Identifier: GPL-2.0

//! A KTAP / TAP 13 reader for the results the guest sends back.
//!
//! Subtests are indented and come before the line that reports their parent,
//! so a result line is a parent exactly when the result line before it is
//! indented deeper. Leaves are what gets counted; every plan (`1..N`) is
//! checked against the results that follow it, so a run that stops early
//! fails even when each line it printed was `ok`.

/// What a run of results amounts to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Leaf tests that passed.
    pub passed: usize,
    /// Leaf tests that failed, plus every broken plan and bail-out.
    pub failed: usize,
    /// Leaf tests that were skipped.
    pub skipped: usize,
    /// One line per failure, for the report.
    pub failures: Vec<String>,
}

/// One `ok` / `not ok` line.
#[derive(Debug, PartialEq, Eq)]
struct ResultLine<'a> {
    indent: usize,
    ok: bool,
    skip: bool,
    name: &'a str,
}

/// Parses `ok 3 - name # SKIP why` and its KTAP spelling, `ok 3 name # SKIP`.
fn parse_result(line: &str) -> Option<ResultLine<'_>> {
    let body = line.trim_start();
    let indent = line.len() - body.len();
    let (ok, rest) = if let Some(rest) = body.strip_prefix("not ok ") {
        (false, rest)
    } else if let Some(rest) = body.strip_prefix("ok ") {
        (true, rest)
    } else {
        return None;
    };
    let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    if digits == 0 {
        return None;
    }
    let rest = rest[digits..].trim_start();
    let rest = rest.strip_prefix("- ").unwrap_or(rest);
    let (name, directive) = match rest.find(" # ").or_else(|| rest.find("# ")) {
        Some(at) => (&rest[..at], rest[at..].trim_start_matches([' ', '#'])),
        None => (rest, ""),
    };
    let skip = directive.get(..4).is_some_and(|d| d.eq_ignore_ascii_case("skip"));
    Some(ResultLine { indent, ok, skip, name: name.trim() })
}

/// Parses a plan line, `1..N`, giving its indent and N.
fn parse_plan(line: &str) -> Option<(usize, usize)> {
    let body = line.trim_start();
    let count = body.strip_prefix("1..")?;
    let count = count.split_whitespace().next()?.parse().ok()?;
    Some((line.len() - body.len(), count))
}

/// A plan waiting for its results.
struct Plan {
    indent: usize,
    expected: usize,
    seen: usize,
}

/// Results at one indent, and the failure count when the first of them came.
struct Group {
    indent: usize,
    failed_before: usize,
}

/// Reads results from `text`, which holds nothing but the guest's KTAP.
pub fn summarize(text: &str) -> Summary {
    let mut summary = Summary::default();
    let mut plans: Vec<Plan> = Vec::new();
    let mut groups: Vec<Group> = Vec::new();

    for (number, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim_start().starts_with("Bail out!") {
            summary.fail(format!("line {}: {}", number + 1, line.trim()));
        } else if let Some((indent, expected)) = parse_plan(line) {
            close_plans(&mut plans, |p| p.indent >= indent, &mut summary);
            plans.push(Plan { indent, expected, seen: 0 });
        } else if let Some(result) = parse_result(line) {
            close_plans(&mut plans, |p| p.indent > result.indent, &mut summary);
            if let Some(plan) = plans.last_mut().filter(|p| p.indent == result.indent) {
                plan.seen += 1;
            }

            // The innermost group deeper than this line holds its children.
            let mut children = None;
            while groups.last().is_some_and(|g| g.indent > result.indent) {
                children = groups.pop();
            }
            if groups.last().is_none_or(|g| g.indent < result.indent) {
                groups.push(Group { indent: result.indent, failed_before: summary.failed });
            }

            let what = format!("line {}: {}", number + 1, line.trim());
            match children {
                // A parent: its children were counted. It fails on its own
                // only when none of them said why (a crashed suite).
                Some(children) => {
                    if !result.ok && !result.skip && summary.failed == children.failed_before {
                        summary.fail(what);
                    }
                }
                None if result.skip => summary.skipped += 1,
                None if result.ok => summary.passed += 1,
                None => summary.fail(what),
            }
        }
    }
    close_plans(&mut plans, |_| true, &mut summary);
    if summary.passed + summary.failed + summary.skipped == 0 {
        summary.fail("no test results at all".into());
    }
    summary
}

/// Checks and drops the innermost plans that `done` selects.
fn close_plans(plans: &mut Vec<Plan>, done: impl Fn(&Plan) -> bool, summary: &mut Summary) {
    while let Some(plan) = plans.pop_if(|p| done(p)) {
        if plan.seen != plan.expected {
            summary.fail(format!(
                "plan 1..{} at indent {} got {} results",
                plan.expected, plan.indent, plan.seen
            ));
        }
    }
}

impl Summary {
    fn fail(&mut self, what: String) {
        self.failed += 1;
        self.failures.push(what);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUNIT_AND_SELFTEST: &str = "\
KTAP version 1
1..2
    KTAP version 1
    # Subtest: teeio_proto_tdisp
    1..3
    ok 1 header_layout
    ok 2 parse_short # SKIP not here
    ok 3 codes
ok 1 kunit:teeio_proto_kunit
    TAP version 13
    1..2
    # Starting 2 tests
    ok 1 global.loads
    ok 2 global.unloads
ok 2 selftests:teeio:proto_kunit_test
";

    #[test]
    fn counts_leaves_only() {
        let s = summarize(KUNIT_AND_SELFTEST);
        assert_eq!((s.passed, s.failed, s.skipped), (4, 0, 1), "{:?}", s.failures);
    }

    #[test]
    fn failing_leaf_fails_once() {
        let text = KUNIT_AND_SELFTEST
            .replace("    ok 3 codes", "    not ok 3 codes")
            .replace("ok 1 kunit:", "not ok 1 kunit:");
        let s = summarize(&text);
        assert_eq!((s.passed, s.failed), (3, 1), "{:?}", s.failures);
        assert!(s.failures[0].contains("codes"));
    }

    #[test]
    fn failing_parent_without_children_counts() {
        let text = "1..1\n    1..2\nnot ok 1 kselftest:crashed\n";
        let s = summarize(text);
        // The empty nested plan and the parent both fail.
        assert_eq!(s.failed, 2, "{:?}", s.failures);
    }

    #[test]
    fn truncated_run_fails_its_plan() {
        let text = "1..3\nok 1 a\nok 2 b\n";
        let s = summarize(text);
        assert_eq!((s.passed, s.failed), (2, 1));
        assert!(s.failures[0].contains("1..3"));
    }

    #[test]
    fn nested_plan_short_fails() {
        let text = "1..1\n    1..3\n    ok 1 a\nok 1 group\n";
        let s = summarize(text);
        assert_eq!((s.passed, s.failed), (1, 1), "{:?}", s.failures);
    }

    #[test]
    fn bail_out_and_empty_fail() {
        assert_eq!(summarize("1..1\nBail out! no device\n").failed, 2);
        assert_eq!(summarize("").failed, 1);
    }

    #[test]
    fn parses_result_spellings() {
        let r = parse_result("    not ok 12 - foo bar # SKIP later").unwrap();
        assert_eq!(r, ResultLine { indent: 4, ok: false, skip: true, name: "foo bar" });
        let r = parse_result("ok 1 suite").unwrap();
        assert_eq!(r, ResultLine { indent: 0, ok: true, skip: false, name: "suite" });
        assert!(parse_result("ok").is_none());
        assert!(parse_result("okay 1 x").is_none());
        assert!(parse_result("# ok 1 x").is_none());
    }
}
