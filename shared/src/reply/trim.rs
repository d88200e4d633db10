//! Trimming quoted history and signatures from a reply.
