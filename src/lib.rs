#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod bioheat;
pub mod case;
pub mod distance;
pub mod error;
pub mod grid;
pub mod io;
pub mod margin;
pub mod morphology;
pub mod planner;
pub mod progress;
pub mod remnant;
pub mod render;
pub mod roi;
pub mod vocabulary;
pub mod volume;
pub mod volumetry;

pub use error::{Error, ErrorKind, Result, Warning};
pub use grid::{Direction, Grid, Orientation, MM3_PER_ML};
pub use volume::{LabelArray, LabelMap, LabelNames, LabelValue, Mask, Volume};
