//! What the table's stream carries, as the relay needs it: the messages
//! that were inserted. Everything else in the stream is not its business.

use super::attr::Reader;
use super::items::read_message;
use super::keys::Kind;
use super::{Item, StoreError};
use crate::domain::{AccountId, Message};

/// A message a stream record inserted, and the account it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsertedMessage {
    pub account: AccountId,
    pub message: Message,
}

/// The message a stream record (its event name and new image) inserted:
/// `None` for any other record (other items, modifications, removals), an
/// error for a message item this code cannot read.
pub fn inserted_message(
    event_name: &str,
    new_image: &Item,
) -> Option<Result<InsertedMessage, StoreError>> {
    if event_name != "INSERT" {
        return None;
    }
    let r = Reader::new(new_image);
    match r.kind() {
        Ok(Kind::Message) => {}
        // An image without string keys is not one of our messages.
        Ok(_) | Err(_) => return None,
    }
    Some((|| {
        Ok(InsertedMessage {
            account: r.parse("account_id", AccountId::parse)?,
            message: read_message(new_image)?,
        })
    })())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        Author, ClientMessageId, MessageBody, MessageId, Role, ThreadId, Timestamp, UserId,
    };

    fn message() -> Message {
        let acc = AccountId::parse("acc").unwrap();
        Message {
            id: MessageId::new(),
            thread_id: ThreadId::for_scope(&acc, "general"),
            client_message_id: ClientMessageId::parse("c1").unwrap(),
            author: Author {
                id: UserId::parse("u1").unwrap(),
                name: "U".into(),
                role: Role::Client,
            },
            body: MessageBody::parse("hi").unwrap(),
            urgent: false,
            attachments: vec![],
            created_at: Timestamp::now(),
        }
    }

    #[test]
    fn an_inserted_message_is_read_with_its_account() {
        let m = message();
        let item = super::super::items::message_item(&m, "acc");
        let got = inserted_message("INSERT", &item).unwrap().unwrap();
        assert_eq!(got.account.as_str(), "acc");
        assert_eq!(got.message, m);
        assert!(inserted_message("MODIFY", &item).is_none());
    }

    #[test]
    fn each_attachment_keeps_its_key_layout() {
        use crate::domain::{AttachmentId, AttachmentRef, KeyLayout, ScanState};
        let file = |key| AttachmentRef {
            id: AttachmentId::new(),
            filename: "a.png".into(),
            content_type: "image/png".into(),
            size: 1,
            scan: ScanState::Clean,
            key,
        };
        let mut m = message();
        m.attachments = vec![
            file(KeyLayout::Thread),
            // Stored before the key lost its account: the message's.
            file(KeyLayout::Account(AccountId::parse("acc").unwrap())),
        ];
        let item = super::super::items::message_item(&m, "acc");
        let got = inserted_message("INSERT", &item).unwrap().unwrap();
        assert_eq!(got.message, m);
        let Some(aws_sdk_dynamodb::types::AttributeValue::L(entries)) = item.get("attachments")
        else {
            panic!("attachments");
        };
        let marker = |i: usize| entries[i].as_m().unwrap().get("key_layout").cloned();
        assert_eq!(marker(0), Some(super::super::attr::s("thread")));
        assert_eq!(marker(1), None, "as entries were written before");
    }

    #[test]
    fn other_items_are_not_messages_and_a_broken_message_is_an_error() {
        let m = message();
        let mut item = super::super::items::message_item(&m, "acc");
        let mut other = item.clone();
        other.insert("sk".into(), super::super::attr::s("META"));
        assert!(inserted_message("INSERT", &other).is_none());
        item.remove("account_id");
        assert!(inserted_message("INSERT", &item).unwrap().is_err());
    }
}
