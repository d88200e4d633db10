//! `liaison-local`: the local gateway.
//!
//! ```text
//! liaison-local serve [--addr 127.0.0.1:3000] [--smtp 127.0.0.1:2525 | --no-smtp] [--prefix liaison-dev] [--provision] [--demo] [--directory FILE]
//! liaison-local token --sub u_chris [--account acc_acme | --manager] [--name N] [--email E] [--hours 12]
//! ```

use std::process::ExitCode;
use std::time::Duration;

use liaison::provision::Names;
use liaison_local::{demo, jwt, Config, Gateway};
use serde_json::Value;

const USAGE: &str = "\
usage:
  liaison-local serve [--addr HOST:PORT] [--smtp HOST:PORT | --no-smtp] [--prefix NAME] [--provision] [--demo] [--directory FILE] [--no-mail] [--scan-delay-ms MS]
      Serves the API (default 127.0.0.1:3000, env LIAISON_LOCAL_ADDR) on the
      resources NAME-table, NAME-attachments, NAME-notifications (default
      liaison-dev). --provision creates them first; --demo loads the demo
      directory (or FILE) through sync-directory and prints tokens to try.
      On the same origin: the page built in LIAISON_WEB_DIR (default web/dist,
      relative to the repository or absolute; `make web` builds it), its
      /config.json, and the dev sign-in (GET /dev/people, POST /dev/token:
      callers on this machine only, and only with the default dev secret).
      E-mail links open LIAISON_APP_URL, by default this origin.
      Replies to notifications are accepted by SMTP (default 127.0.0.1:2525,
      env LIAISON_SMTP_ADDR) for reply+KEY@LIAISON_REPLY_DOMAIN (default
      reply.liaison.localhost) and handed to receive-reply as SES would.
      A stand-in malware scanner marks each uploaded attachment clean MS
      milliseconds after its upload (default 1000), or infected if it
      contains the EICAR test string, as GuardDuty's results would.
  liaison-local token --sub USER [--account ACC | --manager] [--name N] [--email E] [--hours H] [--directory FILE]
      Prints a dev JWT (HS256, LIAISON_DEV_JWT_SECRET) for USER, valid H hours
      (default 12). Name, e-mail, account and role come from the demo
      directory (or FILE) unless given.
  Tokens carry, and serve accepts only, iss LIAISON_DEV_JWT_ISSUER (default
  liaison-local) and aud LIAISON_DEV_JWT_AUDIENCE (default liaison-dev).";

struct Args(Vec<String>);

impl Args {
    fn flag(&mut self, name: &str) -> bool {
        match self.0.iter().position(|a| a == name) {
            Some(i) => {
                self.0.remove(i);
                true
            }
            None => false,
        }
    }

    fn value(&mut self, name: &str) -> Result<Option<String>, String> {
        let Some(i) = self.0.iter().position(|a| a == name) else {
            return Ok(None);
        };
        if i + 1 >= self.0.len() {
            return Err(format!("{name} needs a value"));
        }
        let v = self.0.remove(i + 1);
        self.0.remove(i);
        Ok(Some(v))
    }

    fn done(&self) -> Result<(), String> {
        match self.0.first() {
            Some(a) => Err(format!("unexpected argument {a}")),
            None => Ok(()),
        }
    }
}

fn main() -> ExitCode {
    let mut args = Args(std::env::args().skip(1).collect());
    if args.0.is_empty() || args.flag("--help") || args.flag("-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let command = args.0.remove(0);
    let result = match command.as_str() {
        "serve" => serve(args),
        "token" => token(args),
        other => Err(format!("unknown command {other}\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("liaison-local: {e}");
            ExitCode::FAILURE
        }
    }
}

fn load_directory(path: Option<String>) -> Result<Value, String> {
    match path {
        None => Ok(demo::directory()),
        Some(p) => {
            let text = std::fs::read_to_string(&p).map_err(|e| format!("reading {p}: {e}"))?;
            serde_json::from_str(&text).map_err(|e| format!("{p} is not JSON: {e}"))
        }
    }
}

fn token(mut args: Args) -> Result<(), String> {
    let sub = args
        .value("--sub")?
        .ok_or("token needs --sub USER (e.g. --sub u_chris)")?;
    let account = args.value("--account")?;
    let manager = args.flag("--manager");
    let name = args.value("--name")?;
    let email = args.value("--email")?;
    let hours: i64 = match args.value("--hours")? {
        None => demo::TOKEN_HOURS,
        Some(h) => h
            .parse()
            .ok()
            .filter(|h| *h > 0)
            .ok_or("--hours must be a positive whole number")?,
    };
    let directory = load_directory(args.value("--directory")?)?;
    args.done()?;
    if manager && account.is_some() {
        return Err("give --account (a client user) or --manager, not both".into());
    }
    let known = demo::find(&directory, &sub);
    let mut person = match (known, &account, manager) {
        (Some(p), None, false) => p,
        (known, _, _) => demo::Person {
            id: sub.clone(),
            name: known
                .as_ref()
                .map(|p| p.name.clone())
                .unwrap_or_else(|| sub.clone()),
            email: known
                .as_ref()
                .map(|p| p.email.clone())
                .unwrap_or_else(|| format!("{sub}@example.com")),
            account: if manager {
                None
            } else {
                Some(account.clone().ok_or_else(|| {
                    let people: Vec<String> = demo::people(&directory)
                        .iter()
                        .map(|p| match &p.account {
                            Some(a) => format!("{} (client, {a})", p.id),
                            None => format!("{} (manager)", p.id),
                        })
                        .collect();
                    format!(
                        "{sub} is not in the directory: give --account ACC or --manager, or one of: {}",
                        people.join(", ")
                    )
                })?)
            },
        },
    };
    if let Some(n) = name {
        person.name = n;
    }
    if let Some(e) = email {
        person.email = e;
    }
    let secret = jwt::secret_from_env();
    println!(
        "{}",
        jwt::mint(secret.as_bytes(), &person.claims(), hours * 3600)
    );
    Ok(())
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn serve(mut args: Args) -> Result<(), String> {
    let addr = match args.value("--addr")? {
        Some(a) => a,
        None => env_or("LIAISON_LOCAL_ADDR", liaison_local::DEFAULT_ADDR),
    };
    let addr = addr
        .parse()
        .map_err(|_| format!("--addr {addr} is not HOST:PORT (e.g. 127.0.0.1:3000)"))?;
    let prefix = args
        .value("--prefix")?
        .unwrap_or_else(|| env_or("LIAISON_LOCAL_PREFIX", liaison_local::DEV_PREFIX));
    let provision = args.flag("--provision");
    let demo_flag = args.flag("--demo");
    let directory_file = args.value("--directory")?;
    let print_mail = !args.flag("--no-mail");
    let no_smtp = args.flag("--no-smtp");
    let scan_delay = match args.value("--scan-delay-ms")? {
        Some(ms) => Duration::from_millis(
            ms.parse()
                .map_err(|_| format!("--scan-delay-ms {ms} is not a number of milliseconds"))?,
        ),
        None => liaison_local::scanner::DEFAULT_SCAN_DELAY,
    };
    let smtp = match args.value("--smtp")? {
        Some(a) => a,
        None => env_or(
            liaison_local::smtp::SMTP_ADDR_VAR,
            liaison_local::smtp::DEFAULT_SMTP_ADDR,
        ),
    };
    let smtp_addr = if no_smtp {
        None
    } else {
        Some(
            smtp.parse()
                .map_err(|_| format!("--smtp {smtp} is not HOST:PORT (e.g. 127.0.0.1:2525)"))?,
        )
    };
    args.done()?;
    let reply_domain = env_or(
        liaison::config::REPLY_DOMAIN,
        liaison_local::DEV_REPLY_DOMAIN,
    )
    .to_ascii_lowercase();
    let reply_secrets = env_or(
        liaison::config::REPLY_SECRETS,
        liaison_local::DEV_REPLY_SECRETS,
    );
    liaison::reply::ReplyKeys::parse(&reply_secrets)
        .map_err(|e| format!("{}: {e}", liaison::config::REPLY_SECRETS))?;
    let directory = if demo_flag || directory_file.is_some() {
        Some(load_directory(directory_file)?)
    } else {
        None
    };
    let notify_delay = liaison::config::notify_delay().map_err(|e| e.to_string())?;
    let mut names = Names::with_prefix(&prefix);
    if let Ok(from) = liaison::config::from_email() {
        names.from_email = from;
    }
    // E-mail links open the page this gateway serves, unless told otherwise.
    let app_url = std::env::var(liaison::config::APP_URL)
        .ok()
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty());
    if let Some(u) = &app_url {
        liaison::config::app_origin(u)
            .map_err(|why| format!("{}: {why}", liaison::config::APP_URL))?;
    }
    let cursor_secret = env_or(
        liaison::config::CURSOR_SECRET,
        liaison_local::DEV_CURSOR_SECRET,
    );
    if cursor_secret.len() < 16 {
        return Err(format!(
            "{} must be at least 16 characters",
            liaison::config::CURSOR_SECRET
        ));
    }

    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,aws_config=warn,aws_smithy_runtime=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let aws = liaison::aws::sdk_config().await;
        let endpoint = aws.endpoint_url().map(str::to_owned);
        let config = Config {
            addr,
            jwt_secret: jwt::secret_from_env(),
            provision,
            directory: directory.clone(),
            app_url,
            cursor_secret,
            notify_delay,
            print_mail,
            scan_delay,
            smtp_addr,
            reply_domain,
            reply_secrets,
            ..Config::new(aws, names)
        };
        let secret = config.jwt_secret.clone();
        let web_dir = config.web_dir.clone();
        let gateway = Gateway::start(config).await.map_err(|e| e.to_string())?;
        banner(
            &gateway,
            endpoint.as_deref(),
            directory.as_ref(),
            &secret,
            &web_dir,
        );
        wait_for_signal().await;
        eprintln!("liaison-local: stopping");
        gateway.shutdown().await;
        Ok::<(), String>(())
    })?;
    runtime.shutdown_timeout(Duration::from_secs(2));
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn banner(
    gateway: &Gateway,
    endpoint: Option<&str>,
    directory: Option<&Value>,
    secret: &str,
    web_dir: &std::path::Path,
) {
    let url = gateway.url();
    let env = gateway.env();
    let mut out = String::new();
    out.push_str(&format!("\nLiaison: open {url}/ in a browser\n"));
    if !web_dir.join("index.html").is_file() {
        out.push_str(&format!(
            "  (the page is not built in {}: run `make web`; the API works meanwhile)\n",
            web_dir.display()
        ));
    }
    if secret == jwt::DEFAULT_SECRET {
        if directory.is_some() {
            out.push_str(
                "  Sign in as anyone in the loaded directory (dev sign-in: GET /dev/people, POST /dev/token,\n  \
                 this machine only).\n",
            );
        } else {
            out.push_str(
                "  No directory loaded (--demo or --directory FILE): the sign-in lists nobody.\n",
            );
        }
    } else {
        out.push_str(
            "  The dev sign-in is off (LIAISON_DEV_JWT_SECRET is set): bring your own tokens.\n",
        );
    }
    out.push_str(&format!(
        "  E-mail links open {}/messages/THREAD_ID\n",
        gateway.app_url()
    ));
    if let Some(smtp) = gateway.smtp_addr() {
        out.push_str(&format!(
            "  Answer a notification by e-mail: SMTP on {smtp} takes mail for reply+KEY@{} (the Reply-To\n  \
             the printed e-mail shows), e.g. swaks --server {smtp} --to 'reply+KEY@{}' --from ADDRESS --body 'Thanks!'\n",
            env.reply_domain, env.reply_domain
        ));
    }
    out.push_str(&format!(
        "  Malware scan: a stand-in scanner marks uploads clean {} ms after upload (infected if they\n  \
         contain the EICAR test string); downloads open only once clean.\n",
        gateway.scan_delay().as_millis()
    ));
    out.push_str(&format!("\nThe API is on the same origin: {url}\n"));
    out.push_str(&format!(
        "  AWS: {}   resources: {}, {}, {}\n",
        endpoint.unwrap_or("(the AWS account in your environment)"),
        env.names.table,
        env.names.bucket,
        env.names.queue
    ));
    out.push_str(&format!(
        "  Lambda Invoke API: aws lambda invoke --endpoint-url {url} --function-name sync-directory \\\n      --cli-binary-format raw-in-base64-out --payload file://infra/local/demo-directory.json /dev/stdout\n"
    ));
    if let Some(dir) = directory {
        let (client, manager) = demo::demo_pair(dir);
        let ttl = demo::TOKEN_HOURS * 3600;
        out.push('\n');
        if let Some(c) = &client {
            out.push_str(&format!(
                "Demo client user {} <{}> ({}, account {}):\n  export CLIENT_TOKEN={}\n",
                c.name,
                c.email,
                c.id,
                c.account.as_deref().unwrap_or_default(),
                jwt::mint(secret.as_bytes(), &c.claims(), ttl)
            ));
        }
        if let Some(m) = &manager {
            out.push_str(&format!(
                "Demo account manager {} <{}> ({}):\n  export MANAGER_TOKEN={}\n",
                m.name,
                m.email,
                m.id,
                jwt::mint(secret.as_bytes(), &m.claims(), ttl)
            ));
        }
        let account = client
            .as_ref()
            .and_then(|c| c.account.clone())
            .unwrap_or_else(|| "acc_acme".into());
        out.push_str(&format!(
            "\nTry (tokens live {h} h; `make token USER=u_alex` mints more):\n\
             \x20 curl -s {url}/catalog -H \"Authorization: Bearer $CLIENT_TOKEN\"\n\
             \x20 curl -s -X POST {url}/threads -H \"Authorization: Bearer $CLIENT_TOKEN\" -H 'content-type: application/json' -d '{{\"scope\":{{\"kind\":\"general\"}}}}'\n\
             \x20 curl -s {url}/threads -H \"Authorization: Bearer $MANAGER_TOKEN\"\n\
             \x20 curl -s -X POST {url}/threads/THREAD_ID/messages -H \"Authorization: Bearer $MANAGER_TOKEN\" -H 'content-type: application/json' -d '{{\"body\":\"Hello\",\"client_message_id\":\"c-1\"}}'\n\
             \x20 curl -s {url}/unread -H \"Authorization: Bearer $CLIENT_TOKEN\"\n\
             \x20 curl -s '{url}/catalog?account_id={account}' -H \"Authorization: Bearer $MANAGER_TOKEN\"\n",
            h = demo::TOKEN_HOURS
        ));
    }
    out.push_str("\nCtrl-C stops it.\n");
    println!("{out}");
}
