//! What every SDK client shares: the HTTPS client, and the round-trip
//! counter tests and benchmarks use to hold DESIGN.md's targets.
//!
//! Init time is most of a cold start, and most of a naive SDK client's init
//! is its TLS set-up (`make bench`, BENCHMARKS.md). So: rustls with ring
//! (small, no C toolchain); trust from the system's CA bundle *file* read
//! once (rustls-native-certs also reads every file of the certificate
//! directory, hundreds of them: milliseconds on every cold start); and one
//! TLS configuration per process instead of one per SDK client built (the
//! SDK builds and throws away a whole connector when each client is
//! constructed). Certificates are verified as always: https only on AWS,
//! against the system's trust anchors plus `AWS_CA_BUNDLE`, if set.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::config;

/// Where Linux distributions keep the system CA bundle (the files
/// openssl-probe knows), Lambda's Amazon Linux 2023 first.
const SYSTEM_BUNDLES: [&str; 5] = [
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // Amazon Linux 2023, RHEL, Fedora
    "/etc/pki/tls/certs/ca-bundle.crt",                  // Amazon Linux 2, older RHEL
    "/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu
    "/etc/ssl/ca-bundle.pem",                            // openSUSE
    "/etc/ssl/cert.pem",                                 // Alpine
];

/// The HTTPS client every SDK client of a process shares: rustls (ring),
/// the system's trust anchors, one connector per timeout setting, built
/// when first needed.
pub fn http_client() -> SharedHttpClient {
    let tls = TlsContext::builder()
        .with_trust_store(trust_store())
        .build()
        .unwrap_or_default();
    SharedHttpClient::new(OneConnector(
        aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .tls_context(tls)
            .build_https(),
    ))
}

fn is_pem(bytes: &[u8]) -> bool {
    bytes
        .windows(27)
        .any(|w| w == b"-----BEGIN CERTIFICATE-----")
}

/// The system bundle (`SSL_CERT_FILE`, else the first of
/// [`SYSTEM_BUNDLES`]), plus `AWS_CA_BUNDLE`. With no bundle file at all,
/// rustls-native-certs looks everywhere it knows.
fn trust_store() -> TrustStore {
    let system = config::ssl_cert_file()
        .into_iter()
        .chain(SYSTEM_BUNDLES.iter().map(|p| p.to_string()))
        .find_map(|path| std::fs::read(path).ok().filter(|pem| is_pem(pem)));
    let mut store = match system {
        Some(pem) => TrustStore::empty()
            .with_native_roots(false)
            .with_pem_certificate(pem),
        None => TrustStore::default(),
    };
    if let Some(path) = config::ca_bundle() {
        match std::fs::read(&path) {
            Ok(pem) if is_pem(&pem) => store = store.with_pem_certificate(pem),
            _ => tracing::warn!(path, "{} is not a readable PEM file", config::CA_BUNDLE),
        }
    }
    store
}

/// The SDK's HTTP client without the connector it builds, and throws away,
/// each time an SDK client is constructed ("so certificates load at
/// init"): the one connector it caches is built on the first request.
#[derive(Debug)]
struct OneConnector(SharedHttpClient);

impl HttpClient for OneConnector {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// Counts requests put on the wire (every attempt, retries included;
/// presigned URLs, which are only computed, are not requests).
#[derive(Debug, Clone, Default)]
pub struct RoundTrips(Arc<AtomicUsize>);

impl RoundTrips {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// The count since the last call (and resets it).
    pub fn take(&self) -> usize {
        self.0.swap(0, Ordering::SeqCst)
    }
}

impl Intercept for RoundTrips {
    fn name(&self) -> &'static str {
        "RoundTrips"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Presigning runs the pipeline up to here (signed in the query
        // string) but sends nothing.
        if !context.request().uri().contains("X-Amz-Signature=") {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}
