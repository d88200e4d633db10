//! Item ↔ domain conversions: what each kind of item holds, written and
//! read in one place per kind. Keys come from `keys`; the operations that
//! read and write these items are in the store's other modules.

mod attachment;
mod directory;
mod message;
mod notification;
mod thread;

pub(super) use attachment::{attachment_item, read_attachment, KEY_LAYOUT, THREAD_LAYOUT};
pub use attachment::{AttachmentRecord, MultipartUpload};
pub(super) use directory::{
    catalog_item, people_attr, read_catalog_entry, read_membership, read_profile, read_version,
    Membership,
};
pub use message::Claim;
pub(super) use message::{claim_item, message_item, read_claim, read_message};
pub use notification::NotificationState;
pub(super) use notification::{notification_claim_item, read_notification_state};
pub(super) use thread::{
    inbox_item, last_message_attr, meta_item, names_attr, opt_message_id, participants_attr,
    read_inbox_row, read_record, read_state,
};
pub use thread::{InboxRow, ReadState, ThreadRecord};
