//! An HTTPS front for the local AWS: on Lambda every AWS endpoint is
//! https, so the functions under test talk TLS too (handshake, certificate
//! chain verification, encrypted records), to a certificate signed by a CA
//! made for this run and handed to them as `AWS_CA_BUNDLE`.
//!
//! moto answers every request with `Connection: close`; AWS keeps
//! connections alive, so a warm function pays no handshake there. The
//! front (hyper over tokio-rustls) keeps the client's TLS connection alive
//! and forwards each request on a fresh upstream connection, re-framing the
//! answer with a length.

use std::net::SocketAddr;
use std::sync::Arc;

use http::{header, HeaderMap, Request, Response, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

type Upstream = Client<HttpConnector, Full<Bytes>>;

pub struct TlsFront {
    /// `https://localhost:{port}`: a name resolved as Lambda resolves AWS's.
    pub endpoint: String,
    /// The run's CA, PEM.
    pub ca_pem: String,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Listens on 127.0.0.1 and forwards to `upstream` (plain HTTP).
pub async fn start(upstream: SocketAddr) -> Result<TlsFront, BoxError> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "liaison bench CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate()?;
    let ca = ca_params.self_signed(&ca_key)?;

    let mut leaf_params = CertificateParams::new(vec!["localhost".to_owned()])?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let leaf_key = KeyPair::generate()?;
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key)?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )?;
    // moto speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

    // A fresh upstream connection per request: moto closes each one.
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Upstream = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(connector);

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let (acceptor, client) = (acceptor.clone(), client.clone());
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service =
                    hyper::service::service_fn(move |req| forward(client.clone(), upstream, req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Ok(TlsFront {
        endpoint: format!("https://localhost:{port}"),
        ca_pem: ca.pem(),
    })
}

/// Drops the headers that frame one hop (each side frames its own).
fn drop_framing(headers: &mut HeaderMap) {
    for name in [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
}

/// One request: its body read whole and sent upstream with a length (its
/// `host` unchanged, as signed), the answer read whole and sent back with
/// a length (a HEAD answer's length is the object's, kept as it came).
async fn forward(
    client: Upstream,
    upstream: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, BoxError> {
    let (mut parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = Uri::try_from(format!("http://{upstream}{path}"))?;
    drop_framing(&mut parts.headers);
    parts.headers.remove(header::CONTENT_LENGTH);
    let answer = client
        .request(Request::from_parts(parts, Full::new(body)))
        .await?;
    let (mut parts, body) = answer.into_parts();
    let body = body.collect().await?.to_bytes();
    drop_framing(&mut parts.headers);
    Ok(Response::from_parts(parts, Full::new(body)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::ServerName;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An upstream that answers like moto: one request per connection,
    /// `Connection: close`; a length, a chunked body, or a HEAD's length.
    async fn moto_like() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("an address");
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && tcp.read(&mut byte).await.unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let answer = if head.starts_with("HEAD") {
                    "HTTP/1.1 200 OK\r\ncontent-length: 42\r\nconnection: close\r\n\r\n".to_owned()
                } else if head.starts_with("GET /chunked") {
                    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n".to_owned()
                } else {
                    let host = head
                        .lines()
                        .find_map(|l| l.strip_prefix("host: "))
                        .unwrap_or("");
                    format!("HTTP/1.1 201 Created\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{host}", host.len())
                };
                let _ = tcp.write_all(answer.as_bytes()).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn the_front_keeps_one_tls_connection_for_many_requests() {
        let front = start(moto_like().await).await.expect("the front starts");
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(front.ca_pem.as_bytes()).expect("the CA"))
            .expect("a root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let port = front.endpoint.rsplit(':').next().expect("a port");
        let tcp = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
            .await
            .expect("connect");
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("localhost").expect("a name"), tcp)
            .await
            .expect("the certificate verifies");
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        for (method, path, status, body, length) in [
            ("PUT", "/put", 201, "localhost:1", "11"),
            ("GET", "/chunked", 200, "abcde", "5"),
            ("HEAD", "/object", 200, "", "42"),
            ("GET", "/again", 201, "localhost:1", "11"),
        ] {
            let req = Request::builder()
                .method(method)
                .uri(path)
                .header("host", "localhost:1")
                .body(Full::new(Bytes::from_static(b"xyz")))
                .expect("a request");
            let resp = send
                .send_request(req)
                .await
                .expect("an answer on the same connection");
            assert_eq!(resp.status().as_u16(), status, "{method} {path}");
            assert_eq!(resp.headers()["content-length"], length, "{method} {path}");
            let got = resp.into_body().collect().await.expect("a body").to_bytes();
            assert_eq!(got, body.as_bytes(), "{method} {path}");
        }
    }
}
