//! The k3s / RKE2 certificate-authority topology, and everything the PKI tools share.
pub mod cert;
pub mod checks;
pub mod custom_ca;
pub mod error;
pub mod expiry;
pub mod issue;
pub mod keys;
pub mod pem_file;
pub mod plan;
pub mod rotation;
pub mod sa_rotation;
pub mod service_key;
pub mod staging;
pub mod token;
pub mod topology;
pub mod verify;
