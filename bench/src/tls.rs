//! An HTTPS front for the local AWS: on Lambda every AWS endpoint is
//! https, so the functions under test talk TLS too (handshake, certificate
//! chain verification, encrypted records), to a certificate signed by a CA
//! made for this run and handed to them as `AWS_CA_BUNDLE`.
//!
//! moto answers every request with `Connection: close`; AWS keeps
//! connections alive, so a warm function pays no handshake there. The
//! front keeps the client's TLS connection alive and forwards each request
//! on a fresh upstream connection, re-framing the answer with a length.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let _ = serve(tls, upstream).await;
                }
            });
        }
    });
    Ok(TlsFront {
        endpoint: format!("https://localhost:{port}"),
        ca_pem: ca.pem(),
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A message head's lines after the first, as (lower-case name, value).
fn headers(head: &str) -> Vec<(String, String)> {
    head.split("\r\n")
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect()
}

/// Reads until `buf` holds `n` bytes.
async fn fill<R: AsyncRead + Unpin>(r: &mut R, buf: &mut Vec<u8>, n: usize) -> io::Result<()> {
    let mut chunk = [0u8; 16 * 1024];
    while buf.len() < n {
        let got = r.read(&mut chunk).await?;
        if got == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..got]);
    }
    Ok(())
}

/// Decodes a chunked body at the start of `buf`, reading more as needed;
/// the body and how many bytes of `buf` it took.
async fn dechunk<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
) -> io::Result<(Vec<u8>, usize)> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let eol = loop {
            if let Some(i) = find(&buf[at..], b"\r\n") {
                break at + i;
            }
            let want = buf.len() + 1;
            fill(r, buf, want).await?;
        };
        let size_text = String::from_utf8_lossy(&buf[at..eol]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
        let start = eol + 2;
        if size == 0 {
            // Trailers (none expected) end with an empty line.
            loop {
                if let Some(i) = find(&buf[start..], b"\r\n") {
                    if i == 0 {
                        return Ok((body, start + 2));
                    }
                    let rest = buf.split_off(start + i + 2);
                    buf.truncate(start);
                    buf.extend_from_slice(&rest);
                    continue;
                }
                let want = buf.len() + 1;
                fill(r, buf, want).await?;
            }
        }
        fill(r, buf, start + size + 2).await?;
        body.extend_from_slice(&buf[start..start + size]);
        at = start + size + 2;
    }
}

/// One client connection: requests in, each on a fresh upstream
/// connection, answers out with keep-alive framing.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut client: S,
    upstream: SocketAddr,
) -> io::Result<()> {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i;
            }
            let mut chunk = [0u8; 16 * 1024];
            let got = client.read(&mut chunk).await?;
            if got == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..got]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let mut rest = buf.split_off(end + 4);
        buf.clear();
        let method = head.split(' ').next().unwrap_or("").to_owned();
        let fields = headers(&head);
        let chunked = fields
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
        let (body, used) = if chunked {
            dechunk(&mut client, &mut rest).await?
        } else {
            let n = fields
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            fill(&mut client, &mut rest, n).await?;
            (rest[..n].to_vec(), n)
        };
        buf.extend_from_slice(&rest[used..]);

        // Upstream: the same request, closed after its answer.
        let mut out = head.lines().next().unwrap_or("").to_owned();
        out.push_str("\r\n");
        for (k, v) in &fields {
            if k != "connection" && k != "transfer-encoding" && k != "content-length" {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        out.push_str(&format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        ));
        let mut up = TcpStream::connect(upstream).await?;
        up.set_nodelay(true)?;
        up.write_all(out.as_bytes()).await?;
        up.write_all(&body).await?;
        // Framed by its length: moto takes milliseconds to close after
        // answering, which no client of AWS waits for.
        let mut answer = Vec::new();
        let split = loop {
            if let Some(i) = find(&answer, b"\r\n\r\n") {
                break i;
            }
            let want = answer.len() + 1;
            fill(&mut up, &mut answer, want).await?;
        };
        let rhead = String::from_utf8_lossy(&answer[..split]).into_owned();
        let mut raw = answer.split_off(split + 4);
        let rfields = headers(&rhead);
        let status: u16 = rhead
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let length = rfields
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok());
        let response_chunked = rfields
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
        let rbody = if method == "HEAD" || status == 204 || status == 304 || status < 200 {
            Vec::new()
        } else if response_chunked {
            dechunk(&mut up, &mut raw).await?.0
        } else if let Some(n) = length {
            fill(&mut up, &mut raw, n).await?;
            raw.truncate(n);
            raw
        } else {
            up.read_to_end(&mut raw).await?;
            raw
        };
        drop(up);
        // A HEAD answer's length is the object's, not this body's.
        let bodiless = method == "HEAD" || status == 204 || status == 304 || status < 200;
        let mut back = rhead.lines().next().unwrap_or("").to_owned();
        back.push_str("\r\n");
        for (k, v) in &rfields {
            let framing = k == "connection" || k == "transfer-encoding" || k == "keep-alive";
            if framing || (k == "content-length" && !bodiless) {
                continue;
            }
            back.push_str(&format!("{k}: {v}\r\n"));
        }
        if !bodiless {
            back.push_str(&format!("content-length: {}\r\n", rbody.len()));
        }
        back.push_str("\r\n");
        let mut msg = back.into_bytes();
        if !bodiless {
            msg.extend_from_slice(&rbody);
        }
        client.write_all(&msg).await?;
        client.flush().await?;
    }
}
