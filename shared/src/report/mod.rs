//! Reports: the typed results of runs and checks rendered for people (text,
//! tables) and for programs (JSON). The binaries print what these return;
//! nothing here decides anything.

pub mod procedure;
pub mod rotation;
pub mod sa_rotation;
