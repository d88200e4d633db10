//! Building the AWS SDK configuration and clients (from `crate::config`'s
//! environment), what every SDK client shares: the HTTPS client, and the
//! round-trip counter tests and benchmarks use to hold DESIGN.md's targets.
//!
//! A cold start is mostly init plus the first request, and most of what a
//! naive SDK client adds to both is TLS set-up (`make bench`,
//! BENCHMARKS.md): rustls-native-certs reads and parses every certificate
//! of the system store, hundreds of files, and the SDK builds a whole TLS
//! configuration for each client constructed, then again for the first
//! request. Here: rustls with ring (small, no C toolchain); on Lambda, whose
//! only peers are AWS endpoints, the five Amazon Trust Services roots those
//! endpoints chain to, compiled in; elsewhere the system's CA bundle file;
//! `AWS_CA_BUNDLE` added when set (an HTTPS proxy, a local stack behind
//! TLS); one TLS configuration per process, built on the first request.
//! Certificates are always verified.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
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
/// openssl-probe knows), Amazon Linux first.
const SYSTEM_BUNDLES: [&str; 5] = [
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // Amazon Linux 2023, RHEL, Fedora
    "/etc/pki/tls/certs/ca-bundle.crt",                  // Amazon Linux 2, older RHEL
    "/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu
    "/etc/ssl/ca-bundle.pem",                            // openSUSE
    "/etc/ssl/cert.pem",                                 // Alpine
];

/// The Amazon Trust Services roots (amazontrust.com/repository), to which
/// every AWS service endpoint's certificate chains.
const AMAZON_TRUST_SERVICES: [&str; 5] = [
    // Amazon Root CA 1: RSA 2048, until 2038
    "\
-----BEGIN CERTIFICATE-----
MIIDQTCCAimgAwIBAgITBmyfz5m/jAo54vB4ikPmljZbyjANBgkqhkiG9w0BAQsF
ADA5MQswCQYDVQQGEwJVUzEPMA0GA1UEChMGQW1hem9uMRkwFwYDVQQDExBBbWF6
b24gUm9vdCBDQSAxMB4XDTE1MDUyNjAwMDAwMFoXDTM4MDExNzAwMDAwMFowOTEL
MAkGA1UEBhMCVVMxDzANBgNVBAoTBkFtYXpvbjEZMBcGA1UEAxMQQW1hem9uIFJv
b3QgQ0EgMTCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBALJ4gHHKeNXj
ca9HgFB0fW7Y14h29Jlo91ghYPl0hAEvrAIthtOgQ3pOsqTQNroBvo3bSMgHFzZM
9O6II8c+6zf1tRn4SWiw3te5djgdYZ6k/oI2peVKVuRF4fn9tBb6dNqcmzU5L/qw
IFAGbHrQgLKm+a/sRxmPUDgH3KKHOVj4utWp+UhnMJbulHheb4mjUcAwhmahRWa6
VOujw5H5SNz/0egwLX0tdHA114gk957EWW67c4cX8jJGKLhD+rcdqsq08p8kDi1L
93FcXmn/6pUCyziKrlA4b9v7LWIbxcceVOF34GfID5yHI9Y/QCB/IIDEgEw+OyQm
jgSubJrIqg0CAwEAAaNCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMC
AYYwHQYDVR0OBBYEFIQYzIU07LwMlJQuCFmcx7IQTgoIMA0GCSqGSIb3DQEBCwUA
A4IBAQCY8jdaQZChGsV2USggNiMOruYou6r4lK5IpDB/G/wkjUu0yKGX9rbxenDI
U5PMCCjjmCXPI6T53iHTfIUJrU6adTrCC2qJeHZERxhlbI1Bjjt/msv0tadQ1wUs
N+gDS63pYaACbvXy8MWy7Vu33PqUXHeeE6V/Uq2V8viTO96LXFvKWlJbYK8U90vv
o/ufQJVtMVT8QtPHRh8jrdkPSHCa2XV4cdFyQzR1bldZwgJcJmApzyMZFo6IQ6XU
5MsI+yMRQ+hDKXJioaldXgjUkK642M4UwtBV8ob2xJNDd2ZhwLnoQdeXeGADbkpy
rqXRfboQnoZsG4q5WTP468SQvvG5
-----END CERTIFICATE-----
",
    // Amazon Root CA 2: RSA 4096, until 2040
    "\
-----BEGIN CERTIFICATE-----
MIIFQTCCAymgAwIBAgITBmyf0pY1hp8KD+WGePhbJruKNzANBgkqhkiG9w0BAQwF
ADA5MQswCQYDVQQGEwJVUzEPMA0GA1UEChMGQW1hem9uMRkwFwYDVQQDExBBbWF6
b24gUm9vdCBDQSAyMB4XDTE1MDUyNjAwMDAwMFoXDTQwMDUyNjAwMDAwMFowOTEL
MAkGA1UEBhMCVVMxDzANBgNVBAoTBkFtYXpvbjEZMBcGA1UEAxMQQW1hem9uIFJv
b3QgQ0EgMjCCAiIwDQYJKoZIhvcNAQEBBQADggIPADCCAgoCggIBAK2Wny2cSkxK
gXlRmeyKy2tgURO8TW0G/LAIjd0ZEGrHJgw12MBvIITplLGbhQPDW9tK6Mj4kHbZ
W0/jTOgGNk3Mmqw9DJArktQGGWCsN0R5hYGCrVo34A3MnaZMUnbqQ523BNFQ9lXg
1dKmSYXpN+nKfq5clU1Imj+uIFptiJXZNLhSGkOQsL9sBbm2eLfq0OQ6PBJTYv9K
8nu+NQWpEjTj82R0Yiw9AElaKP4yRLuH3WUnAnE72kr3H9rN9yFVkE8P7K6C4Z9r
2UXTu/Bfh+08LDmG2j/e7HJV63mjrdvdfLC6HM783k81ds8P+HgfajZRRidhW+me
z/CiVX18JYpvL7TFz4QuK/0NURBs+18bvBt+xa47mAExkv8LV/SasrlX6avvDXbR
8O70zoan4G7ptGmh32n2M8ZpLpcTnqWHsFcQgTfJU7O7f/aS0ZzQGPSSbtqDT6Zj
mUyl+17vIWR6IF9sZIUVyzfpYgwLKhbcAS4y2j5L9Z469hdAlO+ekQiG+r5jqFoz
7Mt0Q5X5bGlSNscpb/xVA1wf+5+9R+vnSUeVC06JIglJ4PVhHvG/LopyboBZ/1c6
+XUyo05f7O0oYtlNc/LMgRdg7c3r3NunysV+Ar3yVAhU/bQtCSwXVEqY0VThUWcI
0u1ufm8/0i2BWSlmy5A5lREedCf+3euvAgMBAAGjQjBAMA8GA1UdEwEB/wQFMAMB
Af8wDgYDVR0PAQH/BAQDAgGGMB0GA1UdDgQWBBSwDPBMMPQFWAJI/TPlUq9LhONm
UjANBgkqhkiG9w0BAQwFAAOCAgEAqqiAjw54o+Ci1M3m9Zh6O+oAA7CXDpO8Wqj2
LIxyh6mx/H9z/WNxeKWHWc8w4Q0QshNabYL1auaAn6AFC2jkR2vHat+2/XcycuUY
+gn0oJMsXdKMdYV2ZZAMA3m3MSNjrXiDCYZohMr/+c8mmpJ5581LxedhpxfL86kS
k5Nrp+gvU5LEYFiwzAJRGFuFjWJZY7attN6a+yb3ACfAXVU3dJnJUH/jWS5E4ywl
7uxMMne0nxrpS10gxdr9HIcWxkPo1LsmmkVwXqkLN1PiRnsn/eBG8om3zEK2yygm
btmlyTrIQRNg91CMFa6ybRoVGld45pIq2WWQgj9sAq+uEjonljYE1x2igGOpm/Hl
urR8FLBOybEfdF849lHqm/osohHUqS0nGkWxr7JOcQ3AWEbWaQbLU8uz/mtBzUF+
fUwPfHJ5elnNXkoOrJupmHN5fLT0zLm4BwyydFy4x2+IoZCn9Kr5v2c69BoVYh63
n749sSmvZ6ES8lgQGVMDMBu4Gon2nL2XA46jCfMdiyHxtN/kHNGfZQIG6lzWE7OE
76KlXIx3KadowGuuQNKotOrN8I1LOJwZmhsoVLiJkO/KdYE+HvJkJMcYr07/R54H
9jVlpNMKVv/1F2Rs76giJUmTtt8AF9pYfl3uxRuw0dFfIRDH+fO6AgonB8Xx1sfT
4PsJYGw=
-----END CERTIFICATE-----
",
    // Amazon Root CA 3: EC P-256, until 2040
    "\
-----BEGIN CERTIFICATE-----
MIIBtjCCAVugAwIBAgITBmyf1XSXNmY/Owua2eiedgPySjAKBggqhkjOPQQDAjA5
MQswCQYDVQQGEwJVUzEPMA0GA1UEChMGQW1hem9uMRkwFwYDVQQDExBBbWF6b24g
Um9vdCBDQSAzMB4XDTE1MDUyNjAwMDAwMFoXDTQwMDUyNjAwMDAwMFowOTELMAkG
A1UEBhMCVVMxDzANBgNVBAoTBkFtYXpvbjEZMBcGA1UEAxMQQW1hem9uIFJvb3Qg
Q0EgMzBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABCmXp8ZBf8ANm+gBG1bG8lKl
ui2yEujSLtf6ycXYqm0fc4E7O5hrOXwzpcVOho6AF2hiRVd9RFgdszflZwjrZt6j
QjBAMA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgGGMB0GA1UdDgQWBBSr
ttvXBp43rDCGB5Fwx5zEGbF4wDAKBggqhkjOPQQDAgNJADBGAiEA4IWSoxe3jfkr
BqWTrBqYaGFy+uGh0PsceGCmQ5nFuMQCIQCcAu/xlJyzlvnrxir4tiz+OpAUFteM
YyRIHN8wfdVoOw==
-----END CERTIFICATE-----
",
    // Amazon Root CA 4: EC P-384, until 2040
    "\
-----BEGIN CERTIFICATE-----
MIIB8jCCAXigAwIBAgITBmyf18G7EEwpQ+Vxe3ssyBrBDjAKBggqhkjOPQQDAzA5
MQswCQYDVQQGEwJVUzEPMA0GA1UEChMGQW1hem9uMRkwFwYDVQQDExBBbWF6b24g
Um9vdCBDQSA0MB4XDTE1MDUyNjAwMDAwMFoXDTQwMDUyNjAwMDAwMFowOTELMAkG
A1UEBhMCVVMxDzANBgNVBAoTBkFtYXpvbjEZMBcGA1UEAxMQQW1hem9uIFJvb3Qg
Q0EgNDB2MBAGByqGSM49AgEGBSuBBAAiA2IABNKrijdPo1MN/sGKe0uoe0ZLY7Bi
9i0b2whxIdIA6GO9mif78DluXeo9pcmBqqNbIJhFXRbb/egQbeOc4OO9X4Ri83Bk
M6DLJC9wuoihKqB1+IGuYgbEgds5bimwHvouXKNCMEAwDwYDVR0TAQH/BAUwAwEB
/zAOBgNVHQ8BAf8EBAMCAYYwHQYDVR0OBBYEFNPsxzplbszh2naaVvuc84ZtV+WB
MAoGCCqGSM49BAMDA2gAMGUCMDqLIfG9fhGt0O9Yli/W651+kI0rz2ZVwyzjKKlw
CkcO8DdZEv8tmZQoTipPNU0zWgIxAOp1AE47xDqUEpHJWEadIRNyp4iciuRMStuW
1KyLa2tJElMzrdfkviT8tQp21KW8EA==
-----END CERTIFICATE-----
",
    // Starfield Services Root Certificate Authority - G2: cross-signs the four, until 2037
    "\
-----BEGIN CERTIFICATE-----
MIID7zCCAtegAwIBAgIBADANBgkqhkiG9w0BAQsFADCBmDELMAkGA1UEBhMCVVMx
EDAOBgNVBAgTB0FyaXpvbmExEzARBgNVBAcTClNjb3R0c2RhbGUxJTAjBgNVBAoT
HFN0YXJmaWVsZCBUZWNobm9sb2dpZXMsIEluYy4xOzA5BgNVBAMTMlN0YXJmaWVs
ZCBTZXJ2aWNlcyBSb290IENlcnRpZmljYXRlIEF1dGhvcml0eSAtIEcyMB4XDTA5
MDkwMTAwMDAwMFoXDTM3MTIzMTIzNTk1OVowgZgxCzAJBgNVBAYTAlVTMRAwDgYD
VQQIEwdBcml6b25hMRMwEQYDVQQHEwpTY290dHNkYWxlMSUwIwYDVQQKExxTdGFy
ZmllbGQgVGVjaG5vbG9naWVzLCBJbmMuMTswOQYDVQQDEzJTdGFyZmllbGQgU2Vy
dmljZXMgUm9vdCBDZXJ0aWZpY2F0ZSBBdXRob3JpdHkgLSBHMjCCASIwDQYJKoZI
hvcNAQEBBQADggEPADCCAQoCggEBANUMOsQq+U7i9b4Zl1+OiFOxHz/Lz58gE20p
OsgPfTz3a3Y4Y9k2YKibXlwAgLIvWX/2h/klQ4bnaRtSmpDhcePYLQ1Ob/bISdm2
8xpWriu2dBTrz/sm4xq6HZYuajtYlIlHVv8loJNwU4PahHQUw2eeBGg6345AWh1K
Ts9DkTvnVtYAcMtS7nt9rjrnvDH5RfbCYM8TWQIrgMw0R9+53pBlbQLPLJGmpufe
hRhJfGZOozptqbXuNC66DQO4M99H67FrjSXZm86B0UVGMpZwh94CDklDhbZsc7tk
6mFBrMnUVN+HL8cisibMn1lUaJ/8viovxFUcdUBgF4UCVTmLfwUCAwEAAaNCMEAw
DwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwHQYDVR0OBBYEFJxfAN+q
AdcwKziIorhtSpzyEZGDMA0GCSqGSIb3DQEBCwUAA4IBAQBLNqaEd2ndOxmfZyMI
bw5hyf2E3F/YNoHN2BtBLZ9g3ccaaNnRbobhiCPPE95Dz+I0swSdHynVv/heyNXB
ve6SbzJ08pGCL72CQnqtKrcgfU28elUSwhXqvfdqlS5sdJ/PHLTyxQGjhdByPq1z
qwubdQxtRbeOlKyWN7Wg0I8VRw7j6IPdj/3vQQF3zCepYoUz8jcI73HPdwbeyBkd
iEDPfUYd/x7H4c7/I9vG+o1VTqkC50cRRj70/b17KSa7qWFiNyi2LSr2EIZkyXCn
0q23KXB56jzaYyWf/Wi3MOxw+3WKt21gZ7IeyLnp2KhvAotnDU0mV3HaIPzBSlCN
sSi6
-----END CERTIFICATE-----
",
];

/// The AWS configuration, with one rustls (ring) HTTPS client shared by
/// every SDK client and `AWS_ENDPOINT_URL` honoured for local stacks.
///
/// On Lambda the region and the function role's credentials are
/// environment variables; when they are there they are read directly (the
/// credentials through the provider the default chain would pick first),
/// and the chains that would probe profile files, SSO, web identity, ECS
/// and IMDS for them are never built. Anywhere else, the default chains.
pub async fn sdk_config() -> SdkConfig {
    let loader =
        aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http_client());
    let loader = if config::region_and_keys_in_env() {
        loader
            .region(aws_config::environment::EnvironmentVariableRegionProvider::new())
            .credentials_provider(
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            )
    } else {
        loader
    };
    loader.load().await
}

/// The configuration a function builds on Lambda, from what Lambda
/// provides and nothing else: region (`AWS_REGION`), the function role's
/// credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`), `AWS_ENDPOINT_URL` when set (a local stack, as
/// `cargo lambda watch` and the bench give it), and [`http_client`].
///
/// Unlike [`sdk_config`] it never names aws-config's loader, so a function
/// binary links none of its default chains (profile files, SSO, STS web
/// identity, ECS, IMDS: ~0.2 MB after fat LTO) and builds none at init.
/// What the loader would add and is left to each SDK client's defaults
/// (the same for this behaviour version): retries (standard, 3 attempts),
/// timeouts (3.1 s connect), the Tokio sleep and the system clock, a lazy
/// identity cache. Not read here: profile files, `AWS_MAX_ATTEMPTS`,
/// `AWS_RETRY_MODE`, per-service `AWS_ENDPOINT_URL_<SERVICE>`, FIPS and
/// dual-stack switches; none is set on Lambda unless the operator adds
/// it. Lambda's credentials do not change during a process's life (the
/// environment cannot), so they are held as static credentials.
///
/// In-process users (the local gateway, tests, bench) keep [`sdk_config`].
pub fn lambda_sdk_config() -> Result<SdkConfig, config::ConfigError> {
    let (key, secret, token) = config::env_credentials()?;
    let credentials =
        aws_credential_types::Credentials::new(key, secret, token, None, "Environment");
    let builder = SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(config::region()?))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(http_client());
    Ok(match config::endpoint_url() {
        Some(url) => builder.endpoint_url(url).build(),
        None => builder.build(),
    })
}

/// The S3 client's configuration: path-style addressing when an endpoint
/// override (a local stack) is configured, since those serve no
/// virtual-hosted buckets. Callers may add to it (an interceptor) before
/// building.
pub fn s3_config(aws: &SdkConfig) -> aws_sdk_s3::config::Builder {
    let local = aws.endpoint_url().is_some();
    aws_sdk_s3::config::Builder::from(aws).force_path_style(local)
}

/// The S3 client, as [`s3_config`] configures it.
pub fn s3_client(aws: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(s3_config(aws).build())
}

/// The HTTPS client every SDK client of a process shares: rustls (ring),
/// the trust anchors of [`trust_store`], one connector per timeout
/// setting, built when first needed.
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

/// What the client trusts. On Lambda (and under `cargo lambda watch`,
/// which sets the same variable): the Amazon Trust Services roots (and
/// `SSL_CERT_FILE`, if the operator set one). Elsewhere, where the
/// endpoint may be anything: `SSL_CERT_FILE`, else the first of
/// [`SYSTEM_BUNDLES`], else whatever rustls-native-certs finds. Both: plus
/// `AWS_CA_BUNDLE`.
fn trust_store() -> TrustStore {
    let read_pem = |path: &str| std::fs::read(path).ok().filter(|pem| is_pem(pem));
    let mut store = TrustStore::empty().with_native_roots(false);
    if config::on_lambda() {
        for pem in AMAZON_TRUST_SERVICES {
            store = store.with_pem_certificate(pem.as_bytes());
        }
        if let Some(pem) = config::ssl_cert_file().and_then(|p| read_pem(&p)) {
            store = store.with_pem_certificate(pem);
        }
    } else {
        let system = config::ssl_cert_file()
            .into_iter()
            .chain(SYSTEM_BUNDLES.iter().map(|p| p.to_string()))
            .find_map(|path| read_pem(&path));
        store = match system {
            Some(pem) => store.with_pem_certificate(pem),
            None => TrustStore::default(),
        };
    }
    if let Some(path) = config::ca_bundle() {
        match read_pem(&path) {
            Some(pem) => store = store.with_pem_certificate(pem),
            None => tracing::warn!(path, "{} is not a readable PEM file", config::CA_BUNDLE),
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

/// An SDK client built when it is first used, for a function that needs a
/// service on some requests only (S3 for a message with files, SQS for a
/// record that must go to the dead-letter queue).
///
/// Constructing an SDK client is not free: each service crate parses its
/// copy of the endpoint partitions (JSON, a regex per partition) when its
/// first client is built, ~0.15–0.2 ms per crate on this machine
/// (bench/NOTES.md). A client the process may never call is built on its
/// first call instead, so a process that never calls it never pays; a
/// client every request needs is built at init, as before (building it
/// later would only move the cost into the first request). Clones share
/// the one client.
#[derive(Clone)]
pub struct LazyClient<C>(Arc<std::sync::LazyLock<C, Box<dyn FnOnce() -> C + Send>>>);

impl<C> LazyClient<C> {
    /// `make` runs once, on the first use.
    pub fn new(make: impl FnOnce() -> C + Send + 'static) -> Self {
        Self(Arc::new(std::sync::LazyLock::new(Box::new(make))))
    }

    /// A client built already (tests, the local gateway).
    pub fn ready(client: C) -> Self
    where
        C: Send + 'static,
    {
        let lazy = Self::new(move || client);
        std::sync::LazyLock::force(&lazy.0);
        lazy
    }

    /// Whether the client has been built (it is built by the first use).
    pub fn is_built(&self) -> bool {
        std::sync::LazyLock::get(&self.0).is_some()
    }
}

impl<C> std::ops::Deref for LazyClient<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.0
    }
}

impl<C> std::fmt::Debug for LazyClient<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyClient")
            .field("built", &self.is_built())
            .finish()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A lazy client is built by its first use, once, and clones share it.
    #[test]
    fn a_lazy_client_is_built_once_on_first_use() {
        let builds = Arc::new(AtomicUsize::new(0));
        let counted = builds.clone();
        let lazy = LazyClient::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            String::from("client")
        });
        let clone = lazy.clone();
        assert!(!lazy.is_built());
        assert_eq!(builds.load(Ordering::SeqCst), 0, "built before use");
        assert_eq!(clone.len(), 6);
        assert!(lazy.is_built(), "a clone's use builds the shared client");
        assert_eq!(&*lazy, "client");
        assert_eq!(builds.load(Ordering::SeqCst), 1);
        assert_eq!(format!("{lazy:?}"), "LazyClient { built: true }");
        assert!(LazyClient::ready(1u8).is_built());
    }

    /// The compiled-in roots are PEM the TLS stack accepts (a bad one
    /// would panic when the first connection is made).
    #[test]
    fn the_amazon_roots_load() {
        let mut store = TrustStore::empty().with_native_roots(false);
        for pem in AMAZON_TRUST_SERVICES {
            assert!(is_pem(pem.as_bytes()));
            store = store.with_pem_certificate(pem.as_bytes());
        }
        let ctx = TlsContext::builder()
            .with_trust_store(store)
            .build()
            .expect("context");
        let _ = aws_smithy_http_client::Connector::builder()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .tls_context(ctx)
            .build();
    }
}
