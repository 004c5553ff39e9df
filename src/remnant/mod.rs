//! The future liver remnant (FLR): is the liver left after a resection large
//! enough, and did it grow enough after portal vein embolisation (PVE)?
//!
//! Definitions used throughout (docs/references.md):
//!
//! ```text
//! total liver (TLV)  = liver ∪ tumour components that touch or overlap the liver
//! functional liver   = TLV − tumour                          [Kubota1997], [Shoup2003]
//! remnant_ml (FLR)   = liver kept by the resection, tumour excluded
//! flr_pct            = 100 · remnant_ml / functional_liver_ml
//! sflr_pct           = 100 · remnant_ml / telv_ml            [Vauthey2002]
//! ```
//!
//! Tumour components (26-connected) that neither overlap nor touch the liver
//! are not liver tumour: they are left out of every volume, with a warning.
//! Liver voxels that no Couinaud segment covers are given to the nearest
//! segment (breadth-first through the liver, 6-connected), with a warning;
//! liver voxels that no segment reaches stay unassigned and are never counted
//! in a segment-based remnant (the remnant is not overestimated). The formulas
//! themselves are in [`formulas`]; reading a case's files and judging its
//! remnant is [`crate::case::remnant`].

pub mod formulas;
mod measure;
pub mod resection;

pub use measure::{measure, measure_with_parts, Anatomy, Measurement, RemnantRegion};
