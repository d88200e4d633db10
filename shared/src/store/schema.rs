//! The table's physical shape, defined once. Provisioning creates the table
//! from it, and a test holds `infra/template.yaml` to it.

/// Partition and sort key attribute names of the table.
pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// The TTL attribute (epoch seconds): pending attachments, notification records.
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// The stream carries new images: the relay reads new message items from it.
pub const STREAM_VIEW: &str = "NEW_IMAGE";

/// A global secondary index: name, partition key, sort key (all strings,
/// projection ALL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    pub name: &'static str,
    pub pk: &'static str,
    pub sk: &'static str,
}

/// Threads of one person, newest activity first.
pub const BY_USER: Index = Index {
    name: "by_user",
    pk: "gsi_user",
    sk: "activity",
};
/// Threads of one person in one account, newest activity first.
pub const BY_USER_ACCOUNT: Index = Index {
    name: "by_user_account",
    pk: "gsi_user_account",
    sk: "activity",
};
/// Sparse: only a person's unread threads carry this key.
pub const UNREAD_BY_USER: Index = Index {
    name: "unread_by_user",
    pk: "gsi_unread",
    sk: "activity",
};
/// Sparse: a person's unread threads in one account.
pub const UNREAD_BY_USER_ACCOUNT: Index = Index {
    name: "unread_by_user_account",
    pk: "gsi_unread_account",
    sk: "activity",
};

pub const INDEXES: [Index; 4] = [
    BY_USER,
    BY_USER_ACCOUNT,
    UNREAD_BY_USER,
    UNREAD_BY_USER_ACCOUNT,
];

/// Every key attribute (table and indexes), each a string.
pub fn key_attributes() -> Vec<&'static str> {
    let mut attrs = vec![PK, SK];
    for index in INDEXES {
        for a in [index.pk, index.sk] {
            if !attrs.contains(&a) {
                attrs.push(a);
            }
        }
    }
    attrs
}
