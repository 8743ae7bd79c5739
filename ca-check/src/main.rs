//! `ca-check`: know before the cluster does. Offline checks of a cluster's CA
//! files: rotate-ca staging dirs and join tokens (k3s, RKE2), certificate
//! expiry and custom CA trees (k3s, RKE2, kubeadm, k0s).

use std::io::{self, BufRead as _, Read as _, Write as _};
use std::process::ExitCode;
use std::time::SystemTime;

use shared::checks::finding::any_failed;
use shared::checks::{TOOL, expiry, record, serving, staged, token, tree};
use shared::pki::error::{Error, Result, stdout_result};
use shared::pki::text::shown;
use shared::{report, store};
use zeroize::Zeroizing;

use crate::args::{Args, Command};

mod args;

fn main() -> ExitCode {
    shared::cli::check_main(TOOL, run)
}

/// Runs the subcommand's check and prints its report; Ok(false) when it found problems.
fn run(args: Args) -> Result<bool> {
    let data_dir = args.data_dir()?;
    let now = SystemTime::now();
    let out = &mut io::stdout().lock();
    let (passed, printed) = match args.command {
        Command::Staged(staged) => {
            let findings = staged::check(&data_dir, &staged.staging_dir, now)?;
            let printed = report::findings::write(out, &findings);
            (!any_failed(&findings), printed)
        }
        Command::Tree(mut tree) => {
            let flags = tree.cluster_flags();
            let findings = tree::check(&data_dir, &tree.cert_dir, flags, now)?;
            let printed = report::findings::write(out, &findings);
            (!any_failed(&findings), printed)
        }
        Command::Expiry(expiry) => {
            let options = expiry::ExpiryOptions {
                dir: expiry.dir,
                kubeconfig: expiry.kubeconfig,
                warn_days: expiry.warn_days,
                due_days: expiry.due_days,
                fail_due: expiry.fail_due,
            };
            let mut report = expiry::check(&data_dir, &options, now)?;
            report.serving = serving::check(&report, &data_dir, expiry.k3s_version);
            let printed = match &expiry.write {
                None => report::expiry::write(out, &report, expiry.output)?,
                Some(file) => {
                    let mut text = Vec::new();
                    report::expiry::write(&mut text, &report, expiry.output)?
                        .map_err(|e| Error::io(file, "rendering", e))?;
                    store::replace_public_file(file, text, &data_dir.root, TOOL)?;
                    writeln!(out, "wrote {}", shown(file))
                }
            };
            (report.passed(), printed)
        }
        Command::Record(check) => {
            let findings = record::check(&check.record, check.dir.as_deref())?;
            let printed = report::findings::write(out, &findings);
            (!any_failed(&findings), printed)
        }
        Command::Token(flags) => {
            let configured = token::Configured {
                pasted: pasted_token(flags.token)?,
                root: flags.root,
                configs: flags.config,
                env_files: flags.env_file,
                units: flags.unit,
            };
            let report = token::check(&data_dir, &configured, now)?;
            let printed = report::token::write(out, &report);
            (report.passed(), printed)
        }
    };
    stdout_result(printed)?;
    Ok(passed)
}

/// The token of `--token`: the value, or the first line of standard input
/// for `-` (read up to a bound: a token is short).
fn pasted_token(flag: Option<String>) -> Result<Option<Zeroizing<String>>> {
    match flag {
        Some(dash) if dash == "-" => {
            let mut line = Zeroizing::new(String::new());
            io::stdin()
                .lock()
                .take(64 * 1024)
                .read_line(&mut line)
                .map_err(|e| {
                    Error::usage(format!("--token -: reading standard input failed: {e}"))
                })?;
            Ok(Some(line))
        }
        Some(token) => Ok(Some(Zeroizing::new(token))),
        None => Ok(None),
    }
}
