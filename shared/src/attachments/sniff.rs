//! What a file really is: its first bytes against its declared type.
//!
//! A name and a `Content-Type` are the uploader's word; the bytes are not.
//! At bind time (a send, and each file of an answer by e-mail) the first
//! [`SNIFF_BYTES`] are matched with `infer`'s signatures for the declared
//! type, so an HTML page declared as `image/png` or a program declared as
//! `application/pdf` never reaches the other side, whatever the browser
//! would make of it. What is checked is the container, not the whole file:
//! a PNG signature with garbage after it passes here, and is only a broken
//! picture; malware inside a valid container is the scan's business.
//!
//! MP4 and QuickTime are both ISO base media files (an `ftyp` box, or
//! QuickTime's older `moov`/`mdat` first): either declared type takes
//! either brand, since cameras and editors label them loosely. Anything an
//! executable signature matches (PE, ELF, Mach-O, …) or that starts like
//! HTML is refused for every type, so a polyglot with a `%PDF` somewhere in
//! its first kilobyte does not pass as a PDF.

use aws_sdk_s3::error::ProvideErrorMetadata;
use infer::{app, archive, image, text, video};

use super::{Attachments, S3Error};

/// An upload as one ranged GET sees it: its size and type, its first
/// bytes, and how many tags it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub size: u64,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
    /// `x-amz-tagging-count`, when S3 sent it (it leaves it out for an
    /// object without tags): what [`Attachments::mark_bound`] needs to
    /// know to skip reading the tags.
    pub tags: Option<u32>,
}

impl Attachments {
    /// The first [`SNIFF_BYTES`] of the object at `key` with its size and
    /// type (one GetObject of `bytes=0-8191`: the size is in its
    /// `Content-Range`), or `None` if there is no such object.
    pub async fn head_of(&self, key: &str) -> Result<Option<Head>, S3Error> {
        let out = match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes=0-{}", SNIFF_BYTES - 1))
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                return match (e.code(), status) {
                    (Some("NoSuchKey"), _) | (None, Some(404)) => Ok(None),
                    // Only an empty object has no byte 0.
                    (Some("InvalidRange"), _) | (None, Some(416)) => Ok(Some(Head {
                        size: 0,
                        content_type: None,
                        bytes: Vec::new(),
                        tags: None,
                    })),
                    _ => Err(S3Error::sdk("GetObject", &e)),
                };
            }
        };
        let total = out
            .content_range()
            .and_then(|r| r.rsplit_once('/'))
            .and_then(|(_, total)| total.parse::<u64>().ok());
        let size = total.unwrap_or(out.content_length().unwrap_or(0).max(0) as u64);
        let content_type = out.content_type().map(str::to_owned);
        let tags = out.tag_count().and_then(|n| u32::try_from(n).ok());
        let bytes = out.body.collect().await.map_err(|e| S3Error {
            op: "GetObject",
            message: e.to_string(),
        })?;
        let mut bytes = bytes.into_bytes().to_vec();
        bytes.truncate(SNIFF_BYTES as usize);
        Ok(Some(Head {
            size,
            content_type,
            bytes,
            tags,
        }))
    }
}

/// How many leading bytes are read to identify a file (one ranged GET).
pub const SNIFF_BYTES: u64 = 8 * 1024;

/// Whether `head` (a file's first bytes, up to [`SNIFF_BYTES`]) is a file
/// of the `declared` type (one of the policy's types, lower-case).
pub fn is_declared_type(declared: &str, head: &[u8]) -> bool {
    if is_program_or_page(head) {
        return false;
    }
    match declared {
        "image/jpeg" => image::is_jpeg(head),
        "image/png" => image::is_png(head),
        "image/gif" => head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a"),
        "image/webp" => head.starts_with(b"RIFF") && image::is_webp(head),
        "video/mp4" | "video/quicktime" => {
            video::is_mp4(head) || video::is_m4v(head) || video::is_mov(head)
        }
        "video/webm" => video::is_webm(head),
        "application/pdf" => archive::is_pdf(head),
        "application/zip" => archive::is_zip(head),
        _ => false,
    }
}

/// What `infer` makes of `head`, for the log (a MIME type, never content).
pub fn detected(head: &[u8]) -> &'static str {
    infer::get(head).map_or("unknown", |t| t.mime_type())
}

fn is_program_or_page(head: &[u8]) -> bool {
    // infer wants a whole ELF header (53 bytes) to say ELF; the magic is
    // enough to refuse.
    app::is_exe(head)
        || head.starts_with(b"\x7fELF")
        || app::is_mach(head)
        || app::is_dex(head)
        || app::is_wasm(head)
        || app::is_java(head)
        || text::is_html(head)
        || text::is_shellscript(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_of_each_type() {
        let ftyp = |brand: &[u8]| {
            let mut b = b"\x00\x00\x00\x18ftyp".to_vec();
            b.extend_from_slice(brand);
            b.extend_from_slice(&[0; 12]);
            b
        };
        assert!(is_declared_type(
            "image/png",
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"
        ));
        assert!(is_declared_type(
            "image/jpeg",
            b"\xff\xd8\xff\xe0\0\x10JFIF"
        ));
        assert!(is_declared_type("image/gif", b"GIF89a\x01\0\x01\0"));
        assert!(!is_declared_type("image/gif", b"GIF"));
        assert!(is_declared_type("image/webp", b"RIFF\x1a\0\0\0WEBPVP8L"));
        assert!(!is_declared_type("image/webp", b"XXXX\x1a\0\0\0WEBPVP8L"));
        for declared in ["video/mp4", "video/quicktime"] {
            assert!(is_declared_type(declared, &ftyp(b"isom")), "{declared}");
            assert!(is_declared_type(declared, &ftyp(b"qt  ")), "{declared}");
            assert!(is_declared_type(declared, &ftyp(b"mp42")), "{declared}");
            // HEIC is ISO-BMFF too, but a picture.
            assert!(!is_declared_type(declared, &ftyp(b"heic")), "{declared}");
        }
        assert!(is_declared_type("application/pdf", b"%PDF-1.7\n"));
        assert!(is_declared_type("application/zip", b"PK\x03\x04\x14\0"));
        assert!(is_declared_type("application/zip", b"PK\x05\x06\0\0"));
        assert!(!is_declared_type("text/html", b"<html>"));
    }

    #[test]
    fn pages_and_programs_are_nothing_else() {
        for head in [
            &b"<!DOCTYPE html><html><body>hi"[..],
            b"  <html lang=en>",
            b"MZ\x90\0\x03\0\0\0%PDF-1.4",
            b"\x7fELF\x02\x01\x01\0%PDF-1.4",
            b"#!/bin/sh\n%PDF",
            b"",
            b"abc",
        ] {
            for declared in [
                "image/png",
                "image/jpeg",
                "application/pdf",
                "application/zip",
                "video/mp4",
            ] {
                assert!(!is_declared_type(declared, head), "{declared}: {head:?}");
            }
        }
        let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
        elf.resize(64, 0);
        assert_eq!(detected(&elf), "application/x-executable");
        assert_eq!(detected(b"\x89PNG\r\n\x1a\n"), "image/png");
        assert_eq!(detected(b"??"), "unknown");
    }
}
