//! What may be uploaded: types, their size limits and file extensions;
//! which uploads take one PUT and which a multipart upload, and how the
//! latter is cut into parts.

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// The largest file one presigned PUT takes (`POST …/attachments`): above
/// it, a dropped connection costs too much to start over, so larger files
/// (videos and ZIP) take a multipart upload (`POST …/uploads`).
pub const SINGLE_PUT_MAX: u64 = 64 * MIB;
/// The smallest part of a multipart upload (every part but the last has
/// exactly the plan's part size): S3 wants at least 5 MiB.
pub const MIN_PART_SIZE: u64 = 8 * MIB;
/// S3's limit on the parts of one upload.
pub const MAX_PARTS: u64 = 10_000;

/// (content type, max bytes, allowed extensions)
const TYPES: &[(&str, u64, &[&str])] = &[
    ("image/jpeg", 25 * MIB, &["jpg", "jpeg"]),
    ("image/png", 25 * MIB, &["png"]),
    ("image/webp", 25 * MIB, &["webp"]),
    ("image/gif", 25 * MIB, &["gif"]),
    ("video/mp4", 5 * GIB, &["mp4"]),
    ("video/quicktime", 5 * GIB, &["mov"]),
    ("video/webm", 5 * GIB, &["webm"]),
    ("application/pdf", 50 * MIB, &["pdf"]),
    ("application/zip", 500 * MIB, &["zip"]),
];

/// A checked upload request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub filename: String,
    pub content_type: &'static str,
    pub size: u64,
}

/// The types a multipart upload takes: the ones whose files get large.
pub const MULTIPART_TYPES: &[&str] = &[
    "video/mp4",
    "video/quicktime",
    "video/webm",
    "application/zip",
];

/// Why an upload is refused. The HTTP edge answers the first with 415,
/// the second and third with 413, the others with a 400 naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    #[error("content_type {declared:?} is not accepted; use one of: {accepted}")]
    UnsupportedType { declared: String, accepted: String },
    #[error("{content_type} attachments are limited to {max_mib} MiB")]
    TooLarge {
        content_type: &'static str,
        max_mib: u64,
    },
    #[error("files over {max_mib} MiB upload in parts: use POST /threads/{{thread_id}}/uploads")]
    UseMultipart { max_mib: u64 },
    #[error("{field} {message}")]
    Field {
        field: &'static str,
        message: String,
    },
}

fn field(field: &'static str, message: impl Into<String>) -> UploadError {
    UploadError::Field {
        field,
        message: message.into(),
    }
}

/// Checks a declared upload: type, size, name. The name comes back
/// cleaned ([`crate::domain::clean_line`]).
pub fn check_upload(filename: &str, content_type: &str, size: u64) -> Result<Upload, UploadError> {
    let declared = content_type.trim().to_ascii_lowercase();
    let Some((ctype, max, exts)) = TYPES.iter().find(|(t, _, _)| *t == declared) else {
        return Err(UploadError::UnsupportedType {
            declared: content_type.to_owned(),
            accepted: TYPES.iter().map(|t| t.0).collect::<Vec<_>>().join(", "),
        });
    };
    if size == 0 {
        return Err(field("size", "must be a whole number of bytes above 0"));
    }
    if size > *max {
        return Err(UploadError::TooLarge {
            content_type: ctype,
            max_mib: max / MIB,
        });
    }
    // Others see the name (listings, downloads): stored cleaned, as one
    // line without control or invisible format characters.
    let filename = crate::domain::clean_line(filename);
    if filename.is_empty() {
        return Err(field(
            "filename",
            "must not be empty (after removing control and invisible characters)",
        ));
    }
    if filename.len() > 255 {
        return Err(field("filename", "must be at most 255 bytes"));
    }
    if filename.contains(['/', '\\']) {
        return Err(field("filename", "must not contain path separators"));
    }
    if filename == "." || filename == ".." {
        return Err(field("filename", "must be a file name"));
    }
    let ext = filename
        .rsplit_once('.')
        .map(|(stem, ext)| (stem, ext.to_ascii_lowercase()))
        .filter(|(stem, _)| !stem.is_empty())
        .map(|(_, ext)| ext);
    match ext {
        Some(e) if exts.contains(&e.as_str()) => {}
        _ => {
            return Err(field(
                "filename",
                format!(
                    "must end in {} for {ctype}",
                    exts.iter()
                        .map(|e| format!(".{e}"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            ))
        }
    }
    Ok(Upload {
        filename,
        content_type: ctype,
        size,
    })
}

/// Checks a declared single-PUT upload (`POST …/attachments`): as
/// [`check_upload`], and at most [`SINGLE_PUT_MAX`].
pub fn check_single_put(
    filename: &str,
    content_type: &str,
    size: u64,
) -> Result<Upload, UploadError> {
    let upload = check_upload(filename, content_type, size)?;
    if upload.size > SINGLE_PUT_MAX {
        return Err(UploadError::UseMultipart {
            max_mib: SINGLE_PUT_MAX / MIB,
        });
    }
    Ok(upload)
}

/// How a multipart upload is cut: every part `part_size` bytes but the
/// last (the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartPlan {
    pub part_size: u64,
    pub part_count: u64,
}

impl PartPlan {
    /// [`MIN_PART_SIZE`] parts, raised in whole MiB only when that would
    /// take more than [`MAX_PARTS`] (never within the 5 GiB cap).
    pub fn for_size(size: u64) -> Self {
        let mut part_size = MIN_PART_SIZE;
        if size.div_ceil(part_size) > MAX_PARTS {
            part_size = size.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB;
        }
        Self {
            part_size,
            part_count: size.div_ceil(part_size).max(1),
        }
    }

    /// The length of part `number` (1-based) of a `size`-byte file.
    pub fn part_len(&self, size: u64, number: u64) -> u64 {
        if number < self.part_count {
            self.part_size
        } else {
            size - self.part_size * (self.part_count - 1)
        }
    }
}

/// Checks a declared multipart upload (`POST …/uploads`): as
/// [`check_upload`], for [`MULTIPART_TYPES`] only, and at least two parts.
pub fn check_multipart(
    filename: &str,
    content_type: &str,
    size: u64,
) -> Result<(Upload, PartPlan), UploadError> {
    let declared = content_type.trim().to_ascii_lowercase();
    if !MULTIPART_TYPES.contains(&declared.as_str()) {
        return Err(UploadError::UnsupportedType {
            declared: content_type.to_owned(),
            accepted: MULTIPART_TYPES.join(", "),
        });
    }
    let upload = check_upload(filename, content_type, size)?;
    let plan = PartPlan::for_size(upload.size);
    if upload.size <= plan.part_size {
        return Err(field(
            "size",
            format!(
                "must be more than {} MiB for an upload in parts; smaller files upload with \
                 POST /threads/{{thread_id}}/attachments",
                plan.part_size / MIB
            ),
        ));
    }
    Ok((upload, plan))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(name: &str, ct: &str, size: u64) -> &'static str {
        match check_upload(name, ct, size) {
            Ok(_) => "ok",
            Err(UploadError::UnsupportedType { .. }) => "unsupported_media_type",
            Err(UploadError::TooLarge { .. }) => "payload_too_large",
            Err(UploadError::UseMultipart { .. }) => "use_multipart_upload",
            Err(UploadError::Field { .. }) => "validation_failed",
        }
    }

    #[test]
    fn large_files_take_parts() {
        assert!(check_single_put("a.mp4", "video/mp4", SINGLE_PUT_MAX).is_ok());
        assert!(matches!(
            check_single_put("a.mp4", "video/mp4", SINGLE_PUT_MAX + 1),
            Err(UploadError::UseMultipart { max_mib: 64 })
        ));
        // Videos up to 5 GiB; ZIP keeps its cap.
        assert_eq!(code("a.mov", "video/quicktime", 5 * GIB), "ok");
        assert_eq!(
            code("a.webm", "video/webm", 5 * GIB + 1),
            "payload_too_large"
        );
        assert_eq!(
            code("a.zip", "application/zip", 500 * MIB + 1),
            "payload_too_large"
        );

        let (_, plan) = check_multipart("a.mp4", "video/mp4", 8 * MIB + 1).unwrap();
        assert_eq!(
            plan,
            PartPlan {
                part_size: 8 * MIB,
                part_count: 2
            }
        );
        assert_eq!(plan.part_len(8 * MIB + 1, 1), 8 * MIB);
        assert_eq!(plan.part_len(8 * MIB + 1, 2), 1);
        let (_, plan) = check_multipart("a.mp4", "video/mp4", 5 * GIB).unwrap();
        assert_eq!(
            plan,
            PartPlan {
                part_size: 8 * MIB,
                part_count: 640
            }
        );
        assert!(matches!(
            check_multipart("a.mp4", "video/mp4", 8 * MIB),
            Err(UploadError::Field { field: "size", .. })
        ));
        assert!(matches!(
            check_multipart("a.png", "image/png", 100 * MIB),
            Err(UploadError::UnsupportedType { .. })
        ));
        assert!(matches!(
            check_multipart("a.mp4", "video/mp4", 5 * GIB + 1),
            Err(UploadError::TooLarge { .. })
        ));
        // Beyond 10,000 parts of 8 MiB, parts grow in whole MiB.
        let plan = PartPlan::for_size(100 * GIB);
        assert_eq!(plan.part_size % MIB, 0);
        assert!(plan.part_count <= MAX_PARTS);
        assert!(plan.part_size * plan.part_count >= 100 * GIB);
    }

    #[test]
    fn types_sizes_and_names() {
        assert_eq!(code("hook.PNG", "image/png", 48213), "ok");
        assert_eq!(code("a.jpeg", "image/jpeg", 1), "ok");
        assert_eq!(code("a.JPG", "IMAGE/JPEG", 1), "ok");
        assert_eq!(code("brief.pdf", "application/pdf", 50 * MIB), "ok");
        for t in ["text/html", "image/svg+xml", "application/x-msdownload", ""] {
            assert_eq!(code("a.png", t, 1), "unsupported_media_type", "{t}");
        }
        for (name, ct, max) in [
            ("a.png", "image/png", 25 * MIB),
            ("a.mp4", "video/mp4", 5 * GIB),
            ("a.zip", "application/zip", 500 * MIB),
            ("a.pdf", "application/pdf", 50 * MIB),
        ] {
            assert_eq!(code(name, ct, max), "ok", "{ct}");
            assert_eq!(code(name, ct, max + 1), "payload_too_large", "{ct}");
        }
        for (name, size) in [
            ("a.jpg", 1),
            ("", 1),
            ("../x.png", 1),
            ("x\\y.png", 1),
            (".png", 1),
            ("png", 1),
            ("a.png", 0),
        ] {
            assert_eq!(
                code(name, "image/png", size),
                "validation_failed",
                "{name:?}"
            );
        }
        assert_eq!(
            code(&format!("{}.png", "a".repeat(252)), "image/png", 1),
            "validation_failed"
        );
        assert_eq!(
            code(&format!("{}.png", "a".repeat(251)), "image/png", 1),
            "ok"
        );
    }

    fn cleaned(name: &str) -> Result<String, UploadError> {
        check_upload(name, "image/png", 1).map(|u| u.filename)
    }

    #[test]
    fn hostile_names_are_stored_cleaned_or_refused() {
        // Controls become one space; CRLF cannot forge a header line.
        assert_eq!(cleaned("x\0.png").unwrap(), "x .png");
        assert_eq!(
            cleaned("a\r\nContent-Type: evil\r\n.png").unwrap(),
            "a Content-Type: evil .png"
        );
        // A bidi override that would show "invoice_gnp.exe" reversed goes.
        assert_eq!(
            cleaned("invoice_\u{202E}exe.png").unwrap(),
            "invoice_exe.png"
        );
        assert_eq!(cleaned("\u{2066}brief\u{2069}.png").unwrap(), "brief.png");
        assert_eq!(cleaned(" \u{200B}hook\u{FEFF}.png\t").unwrap(), "hook.png");
        // Quotes are kept in the stored name (the header escapes them).
        assert_eq!(cleaned("say \"hi\".png").unwrap(), "say \"hi\".png");
        // Nothing left after cleaning: 400 naming the field.
        for name in ["\u{202E}", "\r\n\t", "\u{200B}\u{FEFF}\u{2060}", "   "] {
            let err = cleaned(name).unwrap_err();
            assert!(
                matches!(
                    err,
                    UploadError::Field {
                        field: "filename",
                        ..
                    }
                ),
                "{name:?}"
            );
        }
        // Hiding the real extension behind an override does not pass.
        assert!(cleaned("evil\u{202E}gnp.exe").is_err());
        // Very long: the limit applies to the cleaned name.
        assert!(cleaned(&format!("{}.png", "a".repeat(300))).is_err());
        assert_eq!(
            cleaned(&format!(
                "{}{}.png",
                "a".repeat(251),
                "\u{200B}".repeat(100)
            ))
            .unwrap(),
            format!("{}.png", "a".repeat(251))
        );
    }
}
