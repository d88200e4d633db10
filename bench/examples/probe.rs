//! Where a function's init goes: times each step (the runtime, the log
//! subscriber, the AWS configuration and clients), in one process. `cargo run --release -p liaison-bench --example probe`
//! (under scripts/with-moto.sh for the request steps).

use std::time::Instant;

use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

fn step(name: &str, t: &mut Instant) {
    let now = Instant::now();
    eprintln!("{name:<48} {:>8.3} ms", (now - *t).as_secs_f64() * 1000.0);
    *t = Instant::now();
}

fn main() {
    let mut t = Instant::now();
    let multi = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    step("Tokio multi-thread runtime (#[tokio::main])", &mut t);
    multi.block_on(async {});
    step("  its first block_on", &mut t);
    drop(multi);
    t = Instant::now();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    step("Tokio current-thread runtime (the functions')", &mut t);
    rt.block_on(async {});
    step("  its first block_on", &mut t);
    {
        use lambda_runtime::tracing::subscriber::filter::{EnvFilter, LevelFilter};
        let _ = EnvFilter::builder()
            .with_default_directive(LevelFilter::INFO.into())
            .from_env_lossy();
    }
    step("EnvFilter (lambda_runtime's subscriber, hello's)", &mut t);
    liaison::logging::init();
    step("liaison::logging::init() (the functions')", &mut t);
    rt.block_on(clients());
}

async fn clients() {
    let mut t = Instant::now();
    let c = aws_smithy_http_client::Connector::builder()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build();
    step("connector, native roots (first: loads the files)", &mut t);
    drop(c);
    let c = aws_smithy_http_client::Connector::builder()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build();
    step("connector, native roots (cached files)", &mut t);
    drop(c);
    let c = aws_smithy_http_client::Connector::builder()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(
            tls::TlsContext::builder()
                .with_trust_store(tls::TrustStore::empty().with_native_roots(false))
                .build()
                .unwrap(),
        )
        .build();
    step("connector, no roots", &mut t);
    drop(c);
    let pem = std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
    step("read the bundle file", &mut t);
    let ctx = tls::TlsContext::builder()
        .with_trust_store(
            tls::TrustStore::empty()
                .with_native_roots(false)
                .with_pem_certificate(pem),
        )
        .build()
        .unwrap();
    step("TlsContext from the bundle (copy)", &mut t);
    for _ in 0..2 {
        let c = aws_smithy_http_client::Connector::builder()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .tls_context(ctx.clone())
            .build();
        step("connector, bundle file PEM roots", &mut t);
        drop(c);
    }
    let c = aws_smithy_http_client::Connector::builder().build_http();
    step("connector, plain http", &mut t);
    drop(c);

    let client = liaison::aws::http_client();
    step("liaison::aws::http_client()", &mut t);
    let cfg = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(client)
        .load()
        .await;
    step("aws_config::defaults().load()", &mut t);
    let _cfg3 = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(liaison::aws::http_client())
        .region(aws_config::environment::EnvironmentVariableRegionProvider::new())
        .credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        )
        .load()
        .await;
    step("defaults() + env region and credentials .load()", &mut t);
    let cfg2 = liaison::aws::sdk_config().await;
    step("liaison::aws::sdk_config() (again)", &mut t);
    match liaison::aws::lambda_sdk_config() {
        Ok(_) => step("liaison::aws::lambda_sdk_config() (the functions')", &mut t),
        Err(e) => eprintln!("lambda_sdk_config: {e} (set AWS_REGION and keys)"),
    }
    let db = aws_sdk_dynamodb::Client::new(&cfg);
    step("dynamodb Client::new", &mut t);
    let _db2 = aws_sdk_dynamodb::Client::new(&cfg2);
    step("dynamodb Client::new (second)", &mut t);
    let _s3 = liaison::aws::s3_client(&cfg);
    step("s3 client", &mut t);
    if std::env::var("AWS_ENDPOINT_URL").is_ok() {
        let r = db.list_tables().send().await;
        step("first request (ListTables)", &mut t);
        let _ = db.list_tables().send().await;
        step("second request", &mut t);
        if let Err(e) = r {
            eprintln!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e));
        }
    }
}
