//! Liaison core: the domain, its adapters to AWS, and the HTTP edge.
//! Function crates hold only their handler and wiring.

pub mod access;
pub mod attachments;
pub mod aws;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod notify;
pub mod provision;
pub mod store;

pub use error::ApiError;

/// The S3 client: path-style addressing when an endpoint override (a local
/// stack) is configured, since those serve no virtual-hosted buckets.
pub fn attachments_s3_client(aws: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let local = aws.endpoint_url().is_some();
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(aws)
            .force_path_style(local)
            .build(),
    )
}
