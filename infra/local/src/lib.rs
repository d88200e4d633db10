//! The local gateway: every function of Liaison in one process, with what
//! AWS puts around them — API Gateway's routes and JWT authorizer, the
//! Lambda Invoke API, the event source mappings from the table's stream and
//! the notification queue — against a local AWS (moto) or any other.
//!
//! `make dev` runs it as a binary; tests start it in-process with
//! [`Gateway::start`] on port 0.

pub mod apigw;
pub mod client;
pub mod demo;
mod dev;
pub mod functions;
pub mod jwt;
pub mod mail;
pub mod queue;
pub mod routes;
pub mod scanner;
mod server;
pub mod smtp;
pub mod stream;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use liaison::provision::Names;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use functions::{Clients, FunctionEnv, Functions};

/// Where `make dev` serves.
pub const DEFAULT_ADDR: &str = "127.0.0.1:3000";
/// The resource name prefix of `make dev`.
pub const DEV_PREFIX: &str = "liaison-dev";
/// Signs cursors locally; deployed stacks get a generated secret.
pub const DEV_CURSOR_SECRET: &str = "liaison-dev-cursor-secret";
/// The domain of reply addresses locally (mail for it goes to the SMTP
/// listener, not the internet: `.localhost` never resolves elsewhere).
pub const DEV_REPLY_DOMAIN: &str = "reply.liaison.localhost";
/// Signs reply keys locally; deployed stacks get a generated secret.
pub const DEV_REPLY_SECRETS: &str = "1:liaison-dev-reply-secret";

/// Tells background tasks to stop (also when dropped).
#[derive(Debug)]
pub struct Stopper(watch::Sender<bool>);

impl Stopper {
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}

/// What background tasks watch to know when to stop.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// A stop signal for tasks started with [`stream::start`],
/// [`queue::start`] or [`mail::start`].
pub fn stopper() -> (Stopper, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (Stopper(tx), Shutdown(rx))
}

pub(crate) fn is_stopped(rx: &watch::Receiver<bool>) -> bool {
    *rx.borrow() || rx.has_changed().is_err()
}

/// How to run a gateway.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    /// Verifies `Authorization: Bearer` tokens (HS256).
    pub jwt_secret: String,
    pub aws: SdkConfig,
    pub names: Names,
    /// Create the resources first (idempotent); otherwise they must exist.
    pub provision: bool,
    /// A directory to push through `sync-directory` before serving.
    pub directory: Option<Value>,
    /// Where e-mail links point (`{app_url}/messages/{thread_id}`); `None`:
    /// the gateway's own origin, which serves the page.
    pub app_url: Option<String>,
    /// The built page (`web/dist`, or `LIAISON_WEB_DIR`).
    pub web_dir: std::path::PathBuf,
    pub cursor_secret: String,
    pub notify_delay: Duration,
    /// The domain of reply addresses.
    pub reply_domain: String,
    /// The reply keys' secrets (`version:secret,…`).
    pub reply_secrets: String,
    /// Run the event source mappings of the hosted stream and queue consumers.
    pub event_sources: bool,
    /// Where the stream mapping starts on the shards that exist at start.
    pub stream_start: stream::StartingPosition,
    /// Print e-mails the local SES accepted (moto only).
    pub print_mail: bool,
    /// Run the stand-in malware scanner (with the event sources), which
    /// scans each attachment this long after its upload.
    pub scan_delay: Duration,
    /// Accept replies by SMTP here (`make dev`: 127.0.0.1:2525; port 0:
    /// the OS picks; `None`: no listener).
    pub smtp_addr: Option<SocketAddr>,
}

impl Config {
    /// `make dev`'s settings for these resources: 127.0.0.1:3000, the
    /// dev secrets, notifications after 3 s, everything on.
    pub fn new(aws: SdkConfig, names: Names) -> Self {
        Self {
            addr: DEFAULT_ADDR.parse().unwrap_or_else(|_| unreachable!()),
            jwt_secret: jwt::DEFAULT_SECRET.to_owned(),
            aws,
            names,
            provision: true,
            directory: None,
            app_url: None,
            web_dir: web::dir_from_env(),
            cursor_secret: DEV_CURSOR_SECRET.to_owned(),
            notify_delay: Duration::from_secs(3),
            reply_domain: DEV_REPLY_DOMAIN.to_owned(),
            reply_secrets: DEV_REPLY_SECRETS.to_owned(),
            event_sources: true,
            stream_start: stream::StartingPosition::Latest,
            print_mail: true,
            scan_delay: scanner::DEFAULT_SCAN_DELAY,
            smtp_addr: Some(
                smtp::DEFAULT_SMTP_ADDR
                    .parse()
                    .unwrap_or_else(|_| unreachable!()),
            ),
        }
    }

    /// What the hosted functions are given: these settings, with the
    /// queues' URLs (which only the local AWS knows) and the origin the
    /// gateway serves on (the app's, unless `app_url` says otherwise).
    pub fn function_env(
        &self,
        queue_url: String,
        dead_letter_queue_url: String,
        origin: &str,
    ) -> FunctionEnv {
        FunctionEnv {
            names: self.names.clone(),
            queue_url,
            dead_letter_queue_url,
            app_url: self
                .app_url
                .as_deref()
                .unwrap_or(origin)
                .trim_end_matches('/')
                .to_owned(),
            api_url: origin.trim_end_matches('/').to_owned(),
            cursor_secret: self.cursor_secret.clone().into_bytes(),
            notify_delay: self.notify_delay,
            reply_domain: self.reply_domain.clone(),
            reply_secrets: self.reply_secrets.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("refusing to listen on {0}: the default dev JWT secret is public; set LIAISON_DEV_JWT_SECRET or listen on 127.0.0.1")]
    PublicWithDefaultSecret(SocketAddr),
    #[error(transparent)]
    Provision(#[from] liaison::provision::ProvisionError),
    #[error("the resources are not there ({0}); start with provisioning on")]
    Missing(String),
    #[error("loading the directory failed: {0}")]
    Directory(String),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error(transparent)]
    Stream(#[from] stream::StreamError),
    #[error(transparent)]
    Queue(#[from] queue::QueueError),
}

/// A running gateway; it stops when [`Gateway::shutdown`] is called or it
/// is dropped.
pub struct Gateway {
    addr: SocketAddr,
    smtp_addr: Option<SocketAddr>,
    aws: SdkConfig,
    env: FunctionEnv,
    stream_arn: Option<String>,
    scan_delay: Duration,
    stopper: Stopper,
    tasks: Vec<JoinHandle<()>>,
}

impl Gateway {
    /// Provisions (if asked), loads the directory (if given), binds, starts
    /// the event source mappings and serves. With port 0 the OS picks the
    /// port: see [`Gateway::addr`].
    pub async fn start(config: Config) -> Result<Gateway, StartError> {
        if !config.addr.ip().is_loopback() && config.jwt_secret == jwt::DEFAULT_SECRET {
            return Err(StartError::PublicWithDefaultSecret(config.addr));
        }
        // Bound first: the port (0: the OS picks) is part of the origin
        // the page is served on and e-mails link to.
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|e| StartError::Bind(config.addr, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartError::Bind(config.addr, e))?;
        let origin = format!("http://{addr}");
        let (queue_url, dead_letter_queue_url, stream_arn) = if config.provision {
            let p = liaison::provision::all(&config.aws, &config.names).await?;
            // The page PUTs uploads from this origin: the bucket's CORS
            // must name it whatever the port (and the API's other origins).
            let mut origins = cors_origins();
            for o in [origin.clone(), format!("http://localhost:{}", addr.port())] {
                if !origins.contains(&o) {
                    origins.push(o);
                }
            }
            let origins: Vec<&str> = origins.iter().map(String::as_str).collect();
            liaison::provision::bucket(
                &liaison::aws::s3_client(&config.aws),
                &config.names.bucket,
                &origins,
            )
            .await?;
            (p.queue_url, p.dead_letter_queue_url, p.stream_arn)
        } else {
            existing(&config.aws, &config.names).await?
        };
        let env = config.function_env(queue_url.clone(), dead_letter_queue_url, &origin);
        let functions = Arc::new(Functions::new(&Clients::new(&config.aws), &env));
        if let Some(dir) = &config.directory {
            functions
                .sync_directory(dir.clone())
                .await
                .map_err(|d| StartError::Directory(d.error_message))?;
        }

        let (stopper, shutdown) = stopper();
        let mut tasks = Vec::new();
        let region = config
            .aws
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into());

        if config.event_sources {
            // The table's stream → relay-messages (started once it is hosted).
            if let (true, Some(arn)) = (Functions::hosts("relay-messages"), &stream_arn) {
                let f = functions.clone();
                tasks.push(
                    stream::start(
                        aws_sdk_dynamodbstreams::Client::new(&config.aws),
                        arn.clone(),
                        stream::StreamOptions {
                            starting_position: config.stream_start,
                            region: region.clone(),
                            ..Default::default()
                        },
                        move |event| {
                            let f = f.clone();
                            async move { f.relay_messages(event).await.map_err(diagnostic_text) }
                        },
                        shutdown.clone(),
                    )
                    .await?,
                );
            }
            // The notification queue → notify-reply (started once it is hosted).
            if Functions::hosts("notify-reply") {
                let f = functions.clone();
                tasks.push(
                    queue::start(
                        aws_sdk_sqs::Client::new(&config.aws),
                        queue_url.clone(),
                        queue::QueueOptions {
                            region: region.clone(),
                            ..Default::default()
                        },
                        move |event| {
                            let f = f.clone();
                            async move { f.notify_reply(event).await.map_err(diagnostic_text) }
                        },
                        shutdown.clone(),
                    )
                    .await?,
                );
            }
        }
        if config.event_sources {
            // The stand-in for GuardDuty's scans → record-scan.
            tasks.push(scanner::start(
                scanner::StandIn::new(
                    liaison::aws::s3_client(&config.aws),
                    env.names.bucket.clone(),
                    region.clone(),
                    config.scan_delay,
                ),
                functions.clone(),
                shutdown.clone(),
            ));
            tracing::info!(
                delay_ms = config.scan_delay.as_millis() as u64,
                "stand-in malware scanner running (EICAR → infected, else clean)"
            );
        }
        if config.print_mail {
            if let Some(endpoint) = config.aws.endpoint_url() {
                tasks.push(mail::start(endpoint.to_owned(), shutdown.clone()));
            }
        }

        let smtp_addr = match config.smtp_addr {
            Some(at) => {
                let listener = smtp::bind(at).await.map_err(|e| StartError::Bind(at, e))?;
                let bound = listener.local_addr().map_err(|e| StartError::Bind(at, e))?;
                tasks.push(smtp::start(
                    listener,
                    liaison::aws::s3_client(&config.aws),
                    functions.clone(),
                    smtp::SmtpOptions {
                        domain: env.reply_domain.clone(),
                        bucket: env.names.bucket.clone(),
                        region: region.clone(),
                    },
                    shutdown.clone(),
                ));
                Some(bound)
            }
            None => None,
        };

        let dev = dev::DevSignIn {
            directory: config.directory.clone(),
            secret: config.jwt_secret.clone().into_bytes(),
        };
        let site = web::Site {
            dir: config.web_dir.clone(),
            origin,
            s3_origin: s3_origin(&config.aws),
            dev_sign_in: dev.enabled(),
        };
        let state = Arc::new(server::State {
            functions,
            jwt_secret: config.jwt_secret.into_bytes(),
            cors_origins: cors_origins(),
            site,
            dev,
        });
        tasks.push(tokio::spawn(server::serve(listener, state, shutdown)));
        tracing::info!(%addr, table = %env.names.table, "local gateway serving");
        Ok(Gateway {
            addr,
            smtp_addr,
            aws: config.aws,
            env,
            stream_arn,
            scan_delay: config.scan_delay,
            stopper,
            tasks,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where it accepts replies by SMTP, if it does.
    pub fn smtp_addr(&self) -> Option<SocketAddr> {
        self.smtp_addr
    }

    /// `http://{addr}`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What the hosted functions were given.
    pub fn env(&self) -> &FunctionEnv {
        &self.env
    }

    /// Where the page is served and e-mails link to: the gateway's origin
    /// unless `Config::app_url` said otherwise.
    pub fn app_url(&self) -> &str {
        &self.env.app_url
    }

    /// The AWS configuration their clients were built from.
    pub fn aws(&self) -> &SdkConfig {
        &self.aws
    }

    /// How long after an upload the stand-in scanner scans it.
    pub fn scan_delay(&self) -> Duration {
        self.scan_delay
    }

    /// The table's stream, if it has one.
    pub fn stream_arn(&self) -> Option<&str> {
        self.stream_arn.as_deref()
    }

    /// Stops serving and polling, and waits for it.
    pub async fn shutdown(mut self) {
        self.stopper.stop();
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }
}

fn diagnostic_text(d: lambda_runtime::Diagnostic) -> String {
    format!("{}: {}", d.error_type, d.error_message)
}

/// Origins a browser may call the API from: the local app, and
/// `LIAISON_CORS_ORIGIN` if set.
fn cors_origins() -> Vec<String> {
    let mut origins: Vec<String> = liaison::provision::LOCAL_CORS_ORIGINS
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    if let Ok(o) = std::env::var(liaison::config::CORS_ORIGIN) {
        origins.extend(
            o.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
        );
    }
    origins
}

/// Where the browser reaches the attachments bucket: the local AWS's
/// origin (path-style presigned URLs), or S3's.
fn s3_origin(aws: &SdkConfig) -> String {
    match aws.endpoint_url() {
        Some(url) => {
            let url = url.trim_end_matches('/');
            match url.split_once("://") {
                Some((scheme, rest)) => {
                    let authority = rest.split('/').next().unwrap_or(rest);
                    format!("{scheme}://{authority}")
                }
                None => url.to_owned(),
            }
        }
        None => "https://*.amazonaws.com".to_owned(),
    }
}

/// The queue URLs (notifications, dead letters) and stream ARN of
/// resources that already exist.
async fn existing(
    aws: &SdkConfig,
    names: &Names,
) -> Result<(String, String, Option<String>), StartError> {
    use aws_sdk_dynamodb::error::DisplayErrorContext;
    let table = aws_sdk_dynamodb::Client::new(aws)
        .describe_table()
        .table_name(&names.table)
        .send()
        .await
        .map_err(|e| {
            StartError::Missing(format!(
                "table {}: {}",
                names.table,
                DisplayErrorContext(&e)
            ))
        })?;
    let sqs = aws_sdk_sqs::Client::new(aws);
    let url = |name: String| {
        let sqs = sqs.clone();
        async move {
            sqs.get_queue_url()
                .queue_name(&name)
                .send()
                .await
                .map_err(|e| {
                    StartError::Missing(format!(
                        "queue {name}: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(&e)
                    ))
                })
                .map(|o| o.queue_url.unwrap_or_default())
        }
    };
    let queue_url = url(names.queue.clone()).await?;
    let dead_letter_queue_url = url(names.dead_letter_queue()).await?;
    Ok((
        queue_url,
        dead_letter_queue_url,
        table.table.and_then(|t| t.latest_stream_arn),
    ))
}
