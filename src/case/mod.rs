//! The case layer: paths and roles in, reports out.
//!
//! A *case* is what one command works on: the files the user named, the
//! roles read from them (liver, tumour, segments, vessels, zone), and the
//! report it prints. The algorithm modules below this layer
//! ([`crate::volumetry`], [`crate::remnant`], [`crate::margin`],
//! [`crate::bioheat`], [`crate::distance`], [`crate::morphology`]) take
//! volumes and masks and never open a file; this layer opens the files
//! ([`crate::io`]), resolves the roles ([`roles`]), calls the algorithms and
//! assembles the report structs the command line prints as JSON and the
//! Python module returns. Both front ends call the functions here, so they
//! give the same numbers. See docs/architecture.md.

pub mod figures;
pub mod margin;
pub mod outputs;
pub mod pages;
pub mod plan;
pub mod protocols;
pub mod remnant;
pub mod report3d;
pub mod report_html;
pub mod report_sr;
pub mod roles;
pub mod simulate;
pub mod target;
pub mod volumes;
