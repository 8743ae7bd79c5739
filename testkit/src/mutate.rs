//! Mutation testing of PEM/DER inputs: deterministic mutants of real files
//! (byte flips, insertions, deletions, truncations, mangled marker lines,
//! shuffled blocks), and the check that a message carries no key material.

use std::collections::HashSet;

/// A small deterministic generator (xorshift64*): the same seed gives the same
/// mutants, so a failure can be replayed.
pub struct Mutator(u64);

impl Mutator {
    /// A generator; a zero seed is replaced by a fixed one.
    pub fn new(seed: u64) -> Self {
        Mutator(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// One mutant of `input`: one to three mutations.
    pub fn mutant(&mut self, input: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..=self.below(3) {
            self.mutate(&mut out);
        }
        out
    }

    fn mutate(&mut self, out: &mut Vec<u8>) {
        const INTERESTING: &[u8] = b"-\n\r =:ABab+/\x00\xff0\x30\x80\x02\x04";
        let len = out.len();
        let at = self.below(len + 1);
        match self.below(10) {
            0 if len > 0 => out[at.min(len - 1)] ^= 1 << self.below(8),
            1 if len > 0 => out[at.min(len - 1)] = INTERESTING[self.below(INTERESTING.len())],
            2 => out.insert(at, INTERESTING[self.below(INTERESTING.len())]),
            3 if at < len => {
                let end = (at + 1 + self.below(64)).min(len);
                out.drain(at..end);
            }
            4 => out.truncate(at),
            // A marker line that loses or gains a dash: the case that once put a
            // key into a message.
            5 => {
                if let Some(pos) = find_from(out, b"-----", at) {
                    if self.below(2) == 0 {
                        out.remove(pos);
                    } else {
                        out.insert(pos, b'-');
                    }
                }
            }
            // A line repeated or dropped.
            6 => {
                let (start, end) = line_around(out, at);
                if self.below(2) == 0 {
                    let line = out[start..end].to_vec();
                    out.splice(start..start, line);
                } else {
                    out.drain(start..end);
                }
            }
            // A DER length byte made huge, inside the decoded body: flip a
            // base64 character near the start of a block.
            7 => {
                if let Some(pos) = find_from(out, b"-----\n", at) {
                    let target = pos + 6 + self.below(8);
                    if target < out.len() {
                        out[target] = b"/+A9zZ"[self.below(6)];
                    }
                }
            }
            // Everything doubled: many blocks.
            8 if len < 100_000 => {
                let copy = out.clone();
                out.extend_from_slice(&copy);
            }
            _ => {
                if len > 0 {
                    let a = self.below(len);
                    let b = self.below(len);
                    out.swap(a, b);
                }
            }
        }
    }
}

fn find_from(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let find = |range: &[u8]| range.windows(needle.len()).position(|w| w == needle);
    haystack
        .get(from..)
        .and_then(find)
        .map(|p| p + from)
        .or_else(|| find(haystack))
}

fn line_around(text: &[u8], at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let start = text[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let end = text[at..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(text.len(), |p| at + p + 1);
    (start, end)
}

/// Window length: any 16 characters of a key's base64 body in a message count
/// as key material.
const WINDOW: usize = 16;

/// Every 16-character run of base64 in the lines of `texts` that look like a
/// PEM body: what no message may contain.
pub fn secret_windows<'a>(texts: impl IntoIterator<Item = &'a [u8]>) -> HashSet<Vec<u8>> {
    let base64 = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    let mut windows = HashSet::new();
    for text in texts {
        for line in text.split(|&b| b == b'\n') {
            for run in line.split(|b| !base64(b)).filter(|r| r.len() >= WINDOW) {
                windows.extend(run.windows(WINDOW).map(<[u8]>::to_vec));
            }
        }
    }
    windows
}

/// Why `message` is not acceptable: key material, or more than one line.
pub fn message_problem(message: &str, secrets: &HashSet<Vec<u8>>) -> Option<String> {
    if message.trim_end().contains('\n') {
        return Some(format!("more than one line: {message:?}"));
    }
    message
        .as_bytes()
        .windows(WINDOW)
        .find(|w| secrets.contains(*w))
        .map(|w| {
            format!(
                "key material {:?} in: {message}",
                String::from_utf8_lossy(w)
            )
        })
}

/// Runs a tool on `rounds` mutants of each of `files` (paths relative to a
/// copy of `template`), `run` making the command for the copy. A run that
/// fails must exit 1 or 2, change nothing (every file, mode and directory as
/// before) and print one line without key material; a run that succeeds (the
/// mutant was still good input) has what it wrote removed for the next round.
/// Returns the number of runs.
pub fn through_binary(
    template: &std::path::Path,
    files: &[&str],
    rounds: usize,
    seed: u64,
    run: impl Fn(&std::path::Path) -> std::process::Command,
) -> usize {
    use crate::faults::{copy_tree, state};
    let dir = crate::scratch();
    let data_dir = dir.path().join("d");
    copy_tree(template, &data_dir);
    let originals: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(data_dir.join(f)).unwrap())
        .collect();
    let secrets = secret_windows(originals.iter().map(Vec::as_slice));
    let mut mutator = Mutator::new(seed);
    let mut runs = 0;
    for (file, original) in files.iter().zip(&originals) {
        let path = data_dir.join(file);
        for round in 0..rounds {
            let mutant = mutator.mutant(original);
            std::fs::write(&path, &mutant).unwrap();
            let before = state(&data_dir);
            let out = run(&data_dir).output().unwrap();
            runs += 1;
            let at = format!("{file} mutant {round} (seed {seed})");
            let stderr = String::from_utf8_lossy(&out.stderr);
            if out.status.success() {
                let after = state(&data_dir);
                for new in after.keys().filter(|k| !before.contains_key(*k)) {
                    let new = data_dir.join(new);
                    let _ = std::fs::remove_dir_all(&new).or_else(|_| std::fs::remove_file(&new));
                }
                continue;
            }
            assert!(
                matches!(out.status.code(), Some(1 | 2)),
                "{at}: exit {:?}: {stderr}",
                out.status
            );
            assert!(
                state(&data_dir) == before,
                "{at}: changed the directory: {stderr}"
            );
            let mut secrets_now = secrets.clone();
            secrets_now.extend(secret_windows([mutant.as_slice()]));
            let stdout = String::from_utf8_lossy(&out.stdout);
            for line in stderr.lines().chain(stdout.lines()) {
                if let Some(problem) = message_problem(line, &secrets_now) {
                    panic!("{at}: {problem}");
                }
            }
            assert!(
                stderr.lines().filter(|l| l.contains(": error: ")).count() <= 1,
                "{at}: one error line: {stderr}"
            );
        }
        std::fs::write(&path, original).unwrap();
    }
    runs
}
