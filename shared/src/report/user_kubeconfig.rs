//! `kubeconfig-user`'s report: who the kubeconfig is for, what signed it,
//! when it ends, where it points, and the file; with the user's own CSR, the
//! command that adds their key.

use std::io::{self, Write};

use crate::pki::cert::format_time;
use crate::pki::text::{one_line, shell_quote};
use crate::runs::user_kubeconfig::UserRun;
use crate::store::plan::Outcome;

/// Writes the report of `run`, whose plan had `outcome`.
pub fn write(out: &mut dyn Write, run: &UserRun, outcome: &Outcome<'_>) -> io::Result<()> {
    let verb = if outcome.dry_run {
        "would write"
    } else {
        "wrote"
    };
    // Names and paths come from flags: each line escaped.
    let mut line = |text: String| writeln!(out, "{}", one_line(&text));
    line(format!(
        "{verb} a kubeconfig for \"{}\", context {}, server {}:",
        run.subject, run.context, run.server
    ))?;
    line(format!(
        "  client certificate (clientAuth) signed by {}, expires {}",
        run.ca.display(),
        format_time(run.not_after)
    ))?;
    if let Some(csr) = &run.csr {
        line(format!(
            "  no client-key-data: the key of {} stays with its owner, who adds it with",
            csr.display()
        ))?;
        line(format!(
            "    kubectl config set-credentials {} --client-key=KEY_FILE --embed-certs --kubeconfig {}",
            shell_quote(run.user.as_ref()),
            shell_quote(run.out.as_os_str())
        ))?;
    }
    write!(out, "{outcome}")
}
