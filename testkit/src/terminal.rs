//! A person at a terminal: a tool run on script(1)'s pseudo-terminal, keys
//! typed once its prompt shows.

use std::io::{Read as _, Write as _};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a prompt may take before script(1) is killed: a tool that never
/// asks would otherwise wait for input for ever.
const PROMPT_WAIT: Duration = Duration::from_secs(60);

/// Runs `script` (a `script -qefc LINE /dev/null` command, its environment
/// set), waits until its output shows `prompt`, then types `keys` (a
/// passphrase and a newline, or `\x03` for Ctrl-C) after a moment, as a
/// person does: a tool prints its prompt just before it turns echo off.
/// Returns the exit status and everything the terminal showed.
pub fn type_at_prompt(script: &mut Command, prompt: &str, keys: &[u8]) -> (ExitStatus, String) {
    let mut child = script
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script(1), from Debian's bsdutils");
    // Only before it is waited for is the pid still the child's own.
    let pid = child.id().to_string();
    let (done, finished) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if finished.recv_timeout(PROMPT_WAIT).is_err() {
            let _ = Command::new("kill").args(["-9", &pid]).status();
        }
    });
    let (mut typing, mut screen) = (child.stdin.take().unwrap(), child.stdout.take().unwrap());
    let mut seen = Vec::new();
    let mut chunk = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains(prompt) {
        let n = screen.read(&mut chunk).unwrap();
        assert!(n > 0, "no prompt: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&chunk[..n]);
    }
    std::thread::sleep(Duration::from_millis(300));
    typing.write_all(keys).unwrap();
    screen.read_to_end(&mut seen).unwrap();
    let _ = done.send(());
    let status = child.wait().unwrap();
    drop(typing);
    (status, String::from_utf8_lossy(&seen).into_owned())
}
