//! The serving certificate's finding in words, and the commands that renew
//! it for the release in use (or for both sides of the release that changed
//! them, each named). Tests compare this text word for word: change it
//! deliberately.

use std::io::{self, Write};

use serde_json::json;

use crate::checks::serving::{Chain, Finding, Serving};
use crate::layout::k3s::serving::{ROTATE_CA_WRITES_TRIGGER, Source};
use crate::pki::cert::format_time;
use crate::pki::text::{one_line, shown};
use crate::report::expiry::time_left;
use crate::report::procedure;

/// The finding, what it means and the commands, after a blank line; nothing
/// when the certificate is fine.
pub fn write(
    out: &mut impl Write,
    serving: &Serving,
    now: std::time::SystemTime,
    warn_days: u64,
) -> io::Result<()> {
    let Some(finding) = serving.finding() else {
        return Ok(());
    };
    writeln!(out)?;
    writeln!(
        out,
        "{}: {}",
        shown(&serving.file),
        headline(serving, finding, now, warn_days)
    )?;
    if let Some(line) = release_line(serving, finding) {
        writeln!(out, "{line}")?;
    }
    procedure::write(out, &serving.renewal().procedure())
}

/// The one line that says what is wrong and why k3s has not fixed it.
fn headline(
    serving: &Serving,
    finding: Finding<'_>,
    now: std::time::SystemTime,
    warn_days: u64,
) -> String {
    let program = serving.names.program();
    let what = format!(
        "the {program} serving certificate (the {} secret)",
        serving.names.secret()
    );
    let date = format_time(serving.not_after);
    match finding {
        Finding::Expired => format!(
            "{what} expired on {date}; {program} renews its other certificates at start but not \
             this one, and its clients fail (\"x509: certificate has expired\") until it is renewed"
        ),
        Finding::NotYetValid => format!(
            "{what} is not valid before {}: it was issued by a clock ahead of this one, and \
             its clients refuse it until then",
            format_time(serving.not_before)
        ),
        Finding::Unchained(why) => format!(
            "{what} does not chain to the current {ca} ({}): its issuer \"{}\" is a CA from \
             before a rotation, so every client that trusts {ca} refuses it",
            one_line(why),
            one_line(&serving.issuer),
            ca = serving.server_ca
        ),
        Finding::Warning => {
            let left = time_left(
                serving
                    .not_after
                    .duration_since(now)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
            );
            format!(
                "{what} expires on {date}, in {left}, within the {warn_days}-day window; \
                 {program} renews its other certificates at start but not always this one: \
                 renew it now, while its clients still connect"
            )
        }
    }
}

/// For a certificate left from before `rotate-ca`: whether this release
/// renews it at the restart after the rotation (k3s #13006), and where the
/// release was learnt when the data dir told.
fn release_line(serving: &Serving, finding: Finding<'_>) -> Option<String> {
    let program = serving.names.program();
    let source = match &serving.release {
        Some((_, Source::DataDir(path))) => format!(" (named by {})", shown(path)),
        _ => String::new(),
    };
    let Finding::Unchained(_) = finding else {
        return serving
            .release
            .as_ref()
            .filter(|_| !source.is_empty())
            .map(|(release, _)| format!("This is {program} {release}{source}."));
    };
    Some(match &serving.release {
        Some((release, _)) if ROTATE_CA_WRITES_TRIGGER.includes(*release) => format!(
            "{program} {release}{source} renews it at the first start after rotate-ca (k3s \
             #13006); it has not, so:"
        ),
        Some((release, _)) => format!(
            "{program} {release}{source} does not renew it after rotate-ca: \
             {ROTATE_CA_WRITES_TRIGGER} do (k3s #13006), so:"
        ),
        None => format!(
            "{program} {ROTATE_CA_WRITES_TRIGGER} renew it at the first start after rotate-ca; \
             earlier releases do not (k3s #13006), so:"
        ),
    })
}

/// The `serving` member of `-o json`.
pub fn json(serving: &Serving, now: std::time::SystemTime, warn_days: u64) -> serde_json::Value {
    let (chains, chain_problem) = match &serving.chain {
        Chain::Verified => (Some(true), None),
        Chain::Refused(why) => (Some(false), Some(why.clone())),
        Chain::NotJudged(why) => (None, Some(why.clone())),
    };
    let advice = serving.finding().is_some().then(|| {
        let mut text = Vec::new();
        // Writing to memory does not fail.
        let _ = write(&mut text, serving, now, warn_days);
        String::from_utf8_lossy(&text).trim_start().to_string()
    });
    json!({
        "file": serving.file.display().to_string(),
        "subject": serving.subject,
        "issuer": serving.issuer,
        "not_after": format_time(serving.not_after),
        "status": serving.status.as_str(),
        "chains_to_server_ca": chains,
        "chain_problem": chain_problem,
        "release": serving.release.as_ref().map(|(release, _)| release.to_string()),
        "trigger_pending": serving.trigger_pending,
        "advice": advice,
    })
}
