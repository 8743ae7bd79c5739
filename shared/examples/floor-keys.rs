//! The keys of a run and nothing else: the floor a tool's run cannot beat
//! (`bench/floor.sh` divides each run's time by this one's).
//!
//! `floor-keys [N*]ALGORITHM...` generates the keys named, as the tools'
//! flags spell them (`RSA-2048`, `RSA-4096`, `ECDSA-P256`, `ECDSA-P384`;
//! `10*ECDSA-P256` for ten), all at once through `PrivateKey::generate_all`,
//! the way a run asks for them: the RSA prime searches share every core. It
//! prints nothing and writes nothing; an example, so no released tool carries it.

use std::process::ExitCode;

use shared::pki::error::{Error, Result};
use shared::pki::keys::{GeneratedKey, KeyAlgorithm, PrivateKey};

fn main() -> ExitCode {
    let wanted: Result<Vec<_>> = std::env::args().skip(1).map(|a| parse(&a)).collect();
    match wanted {
        Ok(wanted) => match generate(&wanted) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e),
        },
        Err(e) => fail(&e),
    }
}

fn fail(e: &Error) -> ExitCode {
    eprintln!("floor-keys: {e}");
    ExitCode::from(2)
}

/// `[N*]ALGORITHM` as (how many, which).
fn parse(arg: &str) -> Result<(usize, KeyAlgorithm)> {
    let (count, name) = match arg.split_once('*') {
        Some((n, name)) => (
            n.parse()
                .map_err(|_| Error::usage(format!("\"{n}\" is not a count")))?,
            name,
        ),
        None => (1, arg),
    };
    Ok((count, name.parse::<GeneratedKey>()?.algorithm()))
}

fn generate(wanted: &[(usize, KeyAlgorithm)]) -> Result<()> {
    let all: Vec<KeyAlgorithm> = wanted
        .iter()
        .flat_map(|&(n, algorithm)| std::iter::repeat_n(algorithm, n))
        .collect();
    let keys = PrivateKey::generate_all(&all)?;
    // Used, so the work cannot be optimised away.
    std::hint::black_box(keys);
    Ok(())
}
