//! Findings: what a check says about one file, with a verdict.

use std::fmt::Display;

/// The verdict on one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not staged: k3s keeps the current file.
    Reused,
    /// Passes.
    Ok,
    /// Passes k3s's checks, but breaks something later.
    Warn,
    /// Fails: k3s would refuse it, or the tree is broken.
    Fail,
}

impl Verdict {
    /// The word printed in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Reused => "reused",
            Verdict::Ok => "OK",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        }
    }
}

/// One finding: a file, a verdict and the reason in plain words.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The file, relative to the checked directory.
    pub file: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Why.
    pub reason: String,
}

/// A finding about `file`.
pub(crate) fn finding(
    file: impl Into<String>,
    verdict: Verdict,
    reason: impl Into<String>,
) -> Finding {
    Finding {
        file: file.into(),
        verdict,
        reason: reason.into(),
    }
}

/// A check of one file that a FAIL finding may cut short: `Err` is that
/// finding (a file it needs could not be read), so `?` ends the check there.
pub(crate) type Checked<T = Finding> = Result<T, Finding>;

/// What reading a file (or any step a check needs) returned, or the FAIL
/// finding about `file` with the error as its reason.
pub(crate) trait OrFail<T> {
    /// The value, or the FAIL finding that ends the check of `file`.
    fn or_fail(self, file: &str) -> Checked<T>;
}

impl<T, E: Display> OrFail<T> for Result<T, E> {
    fn or_fail(self, file: &str) -> Checked<T> {
        self.map_err(|e| finding(file, Verdict::Fail, e.to_string()))
    }
}

/// The finding a check reached, or the FAIL finding that cut it short.
pub(crate) fn settle(checked: Checked) -> Finding {
    checked.unwrap_or_else(|fail| fail)
}

/// Whether any finding fails.
pub fn any_failed(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.verdict == Verdict::Fail)
}
