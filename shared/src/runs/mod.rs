//! Runs turn options into a [`crate::store::plan::Plan`] and what to tell the
//! user: custom trees, CA rotations, service-account key rotations, CSR signing.

pub mod custom_ca;
pub mod pki_rotation;
pub mod rotation;
pub mod sa_rotation;
pub mod sign_csr;
