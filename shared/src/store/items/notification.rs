//! Notification records, one per (recipient, message).

use crate::domain::{MessageId, Timestamp, UserId};
use crate::store::attr::{n, s, Item, Reader};
use crate::store::{keys, schema, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationState {
    /// Someone is sending it now (lease not yet run out).
    Sending,
    Sent,
    /// SES refused the e-mail for good (an address it will not take, a
    /// message it will not send): never tried again.
    Rejected,
}

/// A claim on e-mailing `message` to `user`, held until `lease_until`
/// (unix ms), kept until `expires_at` (unix seconds).
pub(in crate::store) fn notification_claim_item(
    user: &UserId,
    message: &MessageId,
    lease_until: i64,
    expires_at: i64,
) -> Item {
    let mut item = keys::notification(user, message);
    item.extend([
        ("type".into(), s("notification")),
        ("message_id".into(), s(message.to_string())),
        ("notify_state".into(), s("sending")),
        ("lease_until".into(), n(lease_until)),
        (schema::TTL_ATTRIBUTE.into(), n(expires_at)),
    ]);
    item
}

/// The message a record is about and its state at `now`; `None` for a
/// claim whose lease ran out (its sender died: it is free again).
pub(in crate::store) fn read_notification_state(
    item: &Item,
    now: Timestamp,
) -> Result<Option<(MessageId, NotificationState)>, StoreError> {
    let r = Reader::new(item);
    let id = r.parse("message_id", MessageId::parse)?;
    let state = match r.s("notify_state")? {
        "sent" => NotificationState::Sent,
        "rejected" => NotificationState::Rejected,
        _ if r.n("lease_until")? > now.unix_millis() => NotificationState::Sending,
        _ => return Ok(None),
    };
    Ok(Some((id, state)))
}
