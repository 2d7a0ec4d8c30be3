//! Helpers shared by every topic module of the integration tests.
//!
//! - `site`: [`Site`], a fixture site in a temp dir, and [`Run`], one run of the real binary.
//! - `mail`: the header block and headers of a raw message.
//! - `smtp`: a scripted SMTP server on `127.0.0.1:0`, run inside the test.
//! - `dns`: a loopback DNS responder answering from a table, for `herald doctor --dns`.
//! - `dkim`: a site set up to sign, keygen's record, and a verifier of DKIM signatures.
//!
//! A helper lives here once a second topic module needs it; until then it stays beside its one
//! caller: no grab bag of utilities.

pub mod dkim;
pub mod dns;
pub mod mail;
pub mod site;
pub mod smtp;

pub use site::{NOW, Run, Site};
