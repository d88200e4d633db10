//! Request bodies, one type per body of `infra/openapi.yaml`, and their
//! conversion into domain types: parse, don't validate.
//!
//! Each `*Json` type is the body as the wire sends it: every field optional
//! (absent and `null` are the same), unknown fields ignored. A field of the
//! wrong JSON type is refused by serde, and [`body`] names it with its path
//! (`scope.kind`, `attachment_ids[2]`). `TryFrom` then turns the wire type
//! into the checked domain values, naming the field of each refusal.

use std::collections::HashSet;

use lambda_http::Request;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::{json_object, ApiResult};
use crate::domain::{
    AttachmentId, CampaignId, ClientId, ClientMessageId, CreativeId, EmailPreference, FieldError,
    MessageBody, MessageId, Scope, ScopeKind, MAX_ATTACHMENTS,
};
use crate::error::ApiError;

/// The body as `T`. Over [`super::MAX_BODY_BYTES`] is a 413, anything but a
/// JSON object `malformed_json` (an empty body reads as `{}`), and a field
/// of the wrong type `validation_failed` naming it.
pub fn body<T: DeserializeOwned>(req: &Request) -> ApiResult<T> {
    from_object(json_object(req)?)
}

fn from_object<T: DeserializeOwned>(map: serde_json::Map<String, Value>) -> ApiResult<T> {
    serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| {
        let field = e.path().to_string();
        let message = e.inner().to_string();
        if field == "." {
            ApiError::malformed_json(message)
        } else {
            ApiError::field(field, message)
        }
    })
}

/// `POST /threads`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "an object")]
pub struct OpenThreadJson {
    pub account_id: Option<String>,
    pub scope: Option<ScopeJson>,
}

/// A thread's scope: `{"kind": ..., "client_id": ..., ...}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "an object")]
pub struct ScopeJson {
    pub kind: Option<ScopeKind>,
    pub client_id: Option<String>,
    pub campaign_id: Option<String>,
    pub creative_id: Option<String>,
}

/// Every problem of the scope, each against `scope.{field}`.
impl TryFrom<ScopeJson> for Scope {
    type Error = Vec<FieldError>;

    fn try_from(json: ScopeJson) -> Result<Self, Self::Error> {
        let Some(kind) = json.kind else {
            return Err(vec![FieldError::new("scope.kind", "is required")]);
        };
        let wanted = match kind {
            ScopeKind::General => 0,
            ScopeKind::Client => 1,
            ScopeKind::Campaign => 2,
            ScopeKind::Creative => 3,
        };
        let name = kind.as_str();
        let mut errors = Vec::new();
        let client = present(&mut errors, (0, wanted, name), "client_id", json.client_id)
            .and_then(|s| checked(&mut errors, "scope.client_id", ClientId::parse(s)));
        let campaign = present(
            &mut errors,
            (1, wanted, name),
            "campaign_id",
            json.campaign_id,
        )
        .and_then(|s| checked(&mut errors, "scope.campaign_id", CampaignId::parse(s)));
        let creative = present(
            &mut errors,
            (2, wanted, name),
            "creative_id",
            json.creative_id,
        )
        .and_then(|s| checked(&mut errors, "scope.creative_id", CreativeId::parse(s)));
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(match (client, campaign, creative) {
            (Some(client), Some(campaign), Some(creative)) => Scope::Creative {
                client,
                campaign,
                creative,
            },
            (Some(client), Some(campaign), None) => Scope::Campaign { client, campaign },
            (Some(client), None, None) => Scope::Client { client },
            _ => Scope::General,
        })
    }
}

/// The id at `depth` on the scope's path, if the scope's kind wants it
/// (`wanted` ids in all); a missing or an extra one is recorded.
fn present(
    errors: &mut Vec<FieldError>,
    (depth, wanted, kind): (usize, usize, &str),
    field: &str,
    value: Option<String>,
) -> Option<String> {
    let field = format!("scope.{field}");
    match value {
        Some(_) if depth >= wanted => {
            errors.push(FieldError::new(
                field,
                format!("is not allowed for a {kind} scope"),
            ));
            None
        }
        None if depth < wanted => {
            errors.push(FieldError::new(
                field,
                format!("is required for a {kind} scope"),
            ));
            None
        }
        other => other,
    }
}

fn checked<T, E: std::fmt::Display>(
    errors: &mut Vec<FieldError>,
    field: &str,
    parsed: Result<T, E>,
) -> Option<T> {
    parsed
        .map_err(|e| errors.push(FieldError::new(field, e.to_string())))
        .ok()
}

/// `POST /threads/{thread_id}/messages`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "an object")]
pub struct SendMessageJson {
    pub client_message_id: Option<String>,
    pub body: Option<String>,
    pub urgent: Option<bool>,
    pub attachment_ids: Option<Vec<String>>,
}

/// A send, checked.
#[derive(Debug)]
pub struct SendMessage {
    pub client_message_id: ClientMessageId,
    pub body: MessageBody,
    pub urgent: bool,
    /// At most [`MAX_ATTACHMENTS`], distinct.
    pub attachment_ids: Vec<AttachmentId>,
}

impl TryFrom<SendMessageJson> for SendMessage {
    type Error = ApiError;

    fn try_from(json: SendMessageJson) -> ApiResult<Self> {
        let client_message_id = json
            .client_message_id
            .ok_or_else(|| ApiError::field("client_message_id", "is required"))?;
        let client_message_id = ClientMessageId::parse(&client_message_id)
            .map_err(|e| ApiError::field("client_message_id", e.to_string()))?;
        let body = MessageBody::parse(json.body.as_deref().unwrap_or(""))
            .map_err(|e| ApiError::field("body", e.to_string()))?;
        let raw_ids = json.attachment_ids.unwrap_or_default();
        if raw_ids.len() > MAX_ATTACHMENTS {
            return Err(ApiError::too_many_attachments(MAX_ATTACHMENTS));
        }
        let mut seen = HashSet::with_capacity(raw_ids.len());
        for (i, id) in raw_ids.iter().enumerate() {
            if !seen.insert(id.as_str()) {
                return Err(ApiError::field(
                    format!("attachment_ids[{i}]"),
                    "appears twice",
                ));
            }
        }
        if body.is_empty() && raw_ids.is_empty() {
            return Err(ApiError::field(
                "body",
                "must not be empty unless the message has attachments",
            ));
        }
        // Not one of our ids: it names no upload of this author.
        let attachment_ids = raw_ids
            .iter()
            .map(|raw| AttachmentId::parse(raw).map_err(|_| ApiError::attachment_not_uploaded(raw)))
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(Self {
            client_message_id,
            body,
            urgent: json.urgent.unwrap_or(false),
            attachment_ids,
        })
    }
}

/// `POST /threads/{thread_id}/read`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "an object")]
pub struct MarkReadJson {
    pub message_id: Option<String>,
}

/// Read up to this message, or (`None`) up to the newest.
#[derive(Debug)]
pub struct MarkRead {
    pub up_to: Option<MessageId>,
}

impl TryFrom<MarkReadJson> for MarkRead {
    type Error = ApiError;

    fn try_from(json: MarkReadJson) -> ApiResult<Self> {
        let up_to = json
            .message_id
            .map(|raw| {
                MessageId::parse(&raw)
                    .map_err(|_| ApiError::field("message_id", "is not a message id"))
            })
            .transpose()?;
        Ok(Self { up_to })
    }
}

/// `PUT /me/notifications`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "an object")]
pub struct NotificationPreferencesJson {
    pub email: Option<String>,
}

impl TryFrom<NotificationPreferencesJson> for EmailPreference {
    type Error = ApiError;

    fn try_from(json: NotificationPreferencesJson) -> ApiResult<Self> {
        let raw = json
            .email
            .ok_or_else(|| ApiError::field("email", "is required"))?;
        EmailPreference::parse(&raw).map_err(|e| ApiError::field("email", e.to_string()))
    }
}

/// `POST /threads/{thread_id}/attachments`. What the declared type, size
/// and name may be is the upload policy's ([`crate::attachments::check_upload`]).
#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "an object")]
pub struct PresignAttachmentJson {
    pub filename: Option<String>,
    pub content_type: Option<String>,
    /// Bytes; a negative or fractional size is refused as the wrong type.
    pub size: Option<u64>,
}

/// An upload request with every field present.
#[derive(Debug)]
pub struct PresignAttachment {
    pub filename: String,
    pub content_type: String,
    pub size: u64,
}

impl TryFrom<PresignAttachmentJson> for PresignAttachment {
    type Error = ApiError;

    fn try_from(json: PresignAttachmentJson) -> ApiResult<Self> {
        let required = |field: &'static str| move || ApiError::field(field, "is required");
        Ok(Self {
            filename: json.filename.ok_or_else(required("filename"))?,
            content_type: json.content_type.ok_or_else(required("content_type"))?,
            size: json.size.ok_or_else(required("size"))?,
        })
    }
}

/// The most part URLs one request asks for.
pub const MAX_PART_URLS: usize = 100;

/// `POST /threads/{thread_id}/uploads/{attachment_id}/parts`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "an object")]
pub struct PartUrlsJson {
    pub part_numbers: Option<Vec<u64>>,
}

/// Part numbers, 1 to [`MAX_PART_URLS`] of them, distinct, each at least
/// 1 (the upload's part count bounds them from above).
#[derive(Debug)]
pub struct PartUrls {
    pub part_numbers: Vec<u64>,
}

impl TryFrom<PartUrlsJson> for PartUrls {
    type Error = ApiError;

    fn try_from(json: PartUrlsJson) -> ApiResult<Self> {
        let numbers = json
            .part_numbers
            .ok_or_else(|| ApiError::field("part_numbers", "is required"))?;
        if numbers.is_empty() || numbers.len() > MAX_PART_URLS {
            return Err(ApiError::field(
                "part_numbers",
                format!("must list 1 to {MAX_PART_URLS} part numbers"),
            ));
        }
        let mut seen = HashSet::with_capacity(numbers.len());
        for (i, n) in numbers.iter().enumerate() {
            if *n == 0 {
                return Err(ApiError::field(
                    format!("part_numbers[{i}]"),
                    "must be at least 1",
                ));
            }
            if !seen.insert(*n) {
                return Err(ApiError::field(
                    format!("part_numbers[{i}]"),
                    "appears twice",
                ));
            }
        }
        Ok(Self {
            part_numbers: numbers,
        })
    }
}

/// `POST /threads/{thread_id}/uploads/{attachment_id}/complete`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "an object")]
pub struct CompleteUploadJson {
    pub parts: Option<Vec<CompletedPartJson>>,
}

/// One finished part: its number and the `ETag` S3 answered its PUT with.
#[derive(Debug, Default, Deserialize)]
#[serde(default, expecting = "an object")]
pub struct CompletedPartJson {
    pub part_number: Option<u64>,
    pub etag: Option<String>,
}

/// The finished parts, in part-number order; that each of the upload's
/// parts is listed exactly once is checked against its part count.
#[derive(Debug)]
pub struct CompleteUpload {
    /// (part number, ETag)
    pub parts: Vec<(u64, String)>,
}

impl TryFrom<CompleteUploadJson> for CompleteUpload {
    type Error = ApiError;

    fn try_from(json: CompleteUploadJson) -> ApiResult<Self> {
        let listed = json
            .parts
            .ok_or_else(|| ApiError::field("parts", "is required"))?;
        let mut parts = Vec::with_capacity(listed.len());
        let mut seen = HashSet::with_capacity(listed.len());
        for (i, p) in listed.into_iter().enumerate() {
            let number = p.part_number.filter(|n| *n >= 1).ok_or_else(|| {
                ApiError::field(format!("parts[{i}].part_number"), "must be at least 1")
            })?;
            let etag = p
                .etag
                .map(|e| e.trim().to_owned())
                .filter(|e| {
                    !e.is_empty() && e.len() <= 256 && e.chars().all(|c| c.is_ascii_graphic())
                })
                .ok_or_else(|| {
                    ApiError::field(
                        format!("parts[{i}].etag"),
                        "must be the ETag S3 answered the part's PUT with",
                    )
                })?;
            if !seen.insert(number) {
                return Err(ApiError::field(
                    format!("parts[{i}].part_number"),
                    "appears twice",
                ));
            }
            parts.push((number, etag));
        }
        parts.sort_by_key(|(n, _)| *n);
        Ok(Self { parts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn part_numbers_and_finished_parts_name_the_field() {
        let urls = |v| PartUrls::try_from(parse::<PartUrlsJson>(v)?);
        assert_eq!(
            urls(json!({"part_numbers": [2, 1]})).unwrap().part_numbers,
            [2, 1]
        );
        for (body, field) in [
            (json!({}), "part_numbers"),
            (json!({"part_numbers": []}), "part_numbers"),
            (
                json!({"part_numbers": (1..=101).collect::<Vec<_>>()}),
                "part_numbers",
            ),
            (json!({"part_numbers": [1, 0]}), "part_numbers[1]"),
            (json!({"part_numbers": [1, 2, 1]}), "part_numbers[2]"),
            (json!({"part_numbers": [1, -2]}), "part_numbers[1]"),
            (json!({"part_numbers": [1, "x"]}), "part_numbers[1]"),
        ] {
            assert_eq!(fields(urls(body.clone()).unwrap_err()), [field], "{body}");
        }
        let complete = |v| CompleteUpload::try_from(parse::<CompleteUploadJson>(v)?);
        let ok = complete(json!({"parts": [
            {"part_number": 2, "etag": "\"b\""}, {"part_number": 1, "etag": "a"}
        ]}))
        .unwrap();
        assert_eq!(ok.parts, [(1, "a".to_owned()), (2, "\"b\"".to_owned())]);
        for (body, field) in [
            (json!({}), "parts"),
            (json!({"parts": [{"etag": "a"}]}), "parts[0].part_number"),
            (json!({"parts": [{"part_number": 1}]}), "parts[0].etag"),
            (
                json!({"parts": [{"part_number": 1, "etag": " "}]}),
                "parts[0].etag",
            ),
            (
                json!({"parts": [{"part_number": 1, "etag": "a"}, {"part_number": 1, "etag": "b"}]}),
                "parts[1].part_number",
            ),
        ] {
            assert_eq!(
                fields(complete(body.clone()).unwrap_err()),
                [field],
                "{body}"
            );
        }
    }

    fn parse<T: DeserializeOwned>(v: Value) -> ApiResult<T> {
        match v {
            Value::Object(map) => from_object(map),
            _ => panic!("test bodies are objects"),
        }
    }

    fn fields(err: ApiError) -> Vec<String> {
        err.errors.into_iter().map(|e| e.field).collect()
    }

    fn scope(v: Value) -> Result<Scope, Vec<String>> {
        let json: OpenThreadJson = parse(json!({ "scope": v })).map_err(fields)?;
        Scope::try_from(json.scope.unwrap_or_default())
            .map_err(|errors| errors.into_iter().map(|e| e.field).collect())
    }

    #[test]
    fn parses_every_kind() {
        assert_eq!(scope(json!({"kind": "general"})), Ok(Scope::General));
        let s = scope(
            json!({"kind": "creative", "client_id": "cl", "campaign_id": "cp", "creative_id": "cr"}),
        )
        .unwrap();
        assert_eq!(s.key(), "creative#cl#cp#cr");
        assert_eq!(
            scope(json!({"kind": "client", "client_id": "cl", "campaign_id": null, "x": 1}))
                .unwrap()
                .key(),
            "client#cl"
        );
    }

    #[test]
    fn names_the_field_for_every_malformed_scope() {
        let err = |v| scope(v).unwrap_err();
        assert_eq!(err(json!({})), vec!["scope.kind"]);
        assert_eq!(err(json!({"kind": null})), vec!["scope.kind"]);
        assert_eq!(err(json!({"kind": "team"})), vec!["scope.kind"]);
        assert_eq!(err(json!({"kind": 3})), vec!["scope.kind"]);
        assert_eq!(err(json!("general")), vec!["scope"]);
        assert_eq!(
            err(json!({"kind": "general", "client_id": "cl"})),
            vec!["scope.client_id"]
        );
        assert_eq!(err(json!({"kind": "client"})), vec!["scope.client_id"]);
        assert_eq!(
            err(json!({"kind": "campaign", "campaign_id": "cp"})),
            vec!["scope.client_id"]
        );
        assert_eq!(
            err(
                json!({"kind": "campaign", "client_id": "cl", "campaign_id": "cp", "creative_id": "cr"})
            ),
            vec!["scope.creative_id"]
        );
        assert_eq!(
            err(json!({"kind": "creative", "campaign_id": "a#b", "general": 1})),
            vec!["scope.client_id", "scope.campaign_id", "scope.creative_id"]
        );
        assert_eq!(
            err(json!({"kind": "client", "client_id": "a#b"})),
            vec!["scope.client_id"]
        );
        assert_eq!(
            err(json!({"kind": "client", "client_id": 7})),
            vec!["scope.client_id"]
        );
    }

    fn send(v: Value) -> ApiResult<SendMessage> {
        SendMessage::try_from(parse::<SendMessageJson>(v)?)
    }

    fn refusal(r: ApiResult<impl std::fmt::Debug>) -> (&'static str, Vec<String>) {
        let e = r.unwrap_err();
        (e.code, fields(e))
    }

    #[test]
    fn sends_name_the_refused_field() {
        let ok =
            send(json!({"client_message_id": "c1", "body": " hi ", "urgent": null, "extra": []}))
                .unwrap();
        assert_eq!(ok.body.as_str(), "hi");
        assert!(!ok.urgent && ok.attachment_ids.is_empty());
        let v = |code: &'static str, field: &str| (code, vec![field.to_owned()]);
        let bad = "validation_failed";
        assert_eq!(
            refusal(send(json!({"body": "x"}))),
            v(bad, "client_message_id")
        );
        assert_eq!(
            refusal(send(json!({"client_message_id": 5, "body": "x"}))),
            v(bad, "client_message_id")
        );
        assert_eq!(
            refusal(send(json!({"client_message_id": "c"}))),
            v(bad, "body")
        );
        assert_eq!(
            refusal(send(
                json!({"client_message_id": "c", "body": "x", "urgent": "yes"})
            )),
            v(bad, "urgent")
        );
        assert_eq!(
            refusal(send(
                json!({"client_message_id": "c", "body": "x", "attachment_ids": "a"})
            )),
            v(bad, "attachment_ids")
        );
        assert_eq!(
            refusal(send(
                json!({"client_message_id": "c", "attachment_ids": ["a", 1]})
            )),
            v(bad, "attachment_ids[1]")
        );
        assert_eq!(
            refusal(send(
                json!({"client_message_id": "c", "attachment_ids": ["a", "b", "a"]})
            )),
            v(bad, "attachment_ids[2]")
        );
        assert_eq!(
            refusal(send(
                json!({"client_message_id": "c", "attachment_ids": vec!["a"; 11]})
            ))
            .0,
            "too_many_attachments"
        );
        assert_eq!(
            refusal(send(
                json!({"client_message_id": "c", "attachment_ids": [""]})
            ))
            .0,
            "attachment_not_uploaded"
        );
    }

    #[test]
    fn mark_read_and_presign_name_the_refused_field() {
        let mark = |v| MarkRead::try_from(parse::<MarkReadJson>(v)?);
        assert!(mark(json!({"message_id": null})).unwrap().up_to.is_none());
        assert_eq!(
            refusal(mark(json!({"message_id": "x"}))).1,
            vec!["message_id"]
        );
        assert_eq!(
            refusal(mark(json!({"message_id": 1}))).1,
            vec!["message_id"]
        );

        let prefs = |v| EmailPreference::try_from(parse::<NotificationPreferencesJson>(v)?);
        assert_eq!(
            prefs(json!({"email": "urgent_only", "x": 1})).unwrap(),
            EmailPreference::UrgentOnly
        );
        for bad in [
            json!({}),
            json!({"email": null}),
            json!({"email": "none"}),
            json!({"email": "ALL"}),
            json!({"email": 1}),
            json!({"email": ["all"]}),
        ] {
            assert_eq!(refusal(prefs(bad)).1, vec!["email"]);
        }

        let presign = |v| PresignAttachment::try_from(parse::<PresignAttachmentJson>(v)?);
        let ok = presign(json!({"filename": "a.png", "content_type": "image/png", "size": 3}));
        assert_eq!(ok.unwrap().size, 3);
        for (body, field) in [
            (json!({"content_type": "image/png", "size": 1}), "filename"),
            (json!({"filename": "a.png", "size": 1}), "content_type"),
            (
                json!({"filename": "a.png", "content_type": "image/png"}),
                "size",
            ),
            (
                json!({"filename": "a.png", "content_type": "image/png", "size": -5}),
                "size",
            ),
            (
                json!({"filename": "a.png", "content_type": "image/png", "size": 1.5}),
                "size",
            ),
            (
                json!({"filename": "a.png", "content_type": "image/png", "size": "12"}),
                "size",
            ),
            (
                json!({"filename": 1, "content_type": "image/png", "size": 1}),
                "filename",
            ),
        ] {
            assert_eq!(
                refusal(presign(body)),
                ("validation_failed", vec![field.to_owned()])
            );
        }
    }
}
