//! Reports: the typed results of runs and checks rendered for people (text,
//! tables) and for programs (JSON). The binaries print what these return;
//! nothing here judges a file, though a format may refuse a report it has no
//! form for.

pub mod custom_ca;
pub mod expiry;
pub mod findings;
pub mod intermediate_request;
pub mod procedure;
pub mod prometheus;
pub mod renewal;
pub mod rotation;
pub mod sa_rotation;
pub mod serving;
pub mod sign_csr;
pub mod sub_ca;
pub mod token;
pub mod user_kubeconfig;
