//! Liaison core: the domain, its adapters to AWS, and the HTTP edge.
//! Function crates hold only their handler and wiring.

pub mod access;
pub mod attachments;
pub mod aws;
#[cfg(feature = "metering")]
pub mod capacity;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod logging;
pub mod notify;
/// Creating the resources (dev tools and tests only: the `provision` feature).
#[cfg(feature = "provision")]
pub mod provision;
pub mod reply;
pub mod store;

pub use error::ApiError;
