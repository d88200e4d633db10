//! Every integration test of the workspace, in one binary (fast to link).
//! Run with `make test`, which starts the local AWS these need.

mod support;

mod access;
mod attachments;
mod attachments_fixed;
mod capacity;
mod catalog;
mod directory;
mod e2e;
mod events;
mod infra;
mod limits;
mod links;
mod messages;
mod multipart;
mod mute;
mod notify;
mod notify_faults;
mod notify_prefs;
mod page;
mod pipeline;
mod relay_faults;
mod reply;
mod reply_out;
mod reply_smtp;
mod scan;
mod sniff;
mod threads;
mod unsubscribe;
mod wiring;
