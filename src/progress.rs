//! Progress reporting for long computations, without terminal code: the
//! library calls a [`Progress`]; the command-line program draws a bar from it
//! on a terminal, and nothing when its output is piped.

/// Receives progress of a long computation.
pub trait Progress: Sync {
    /// A stage starts with `total` units of work.
    fn start(&self, stage: &str, total: u64);
    /// `done` more units are finished.
    fn advance(&self, done: u64);
    /// The stage is over.
    fn finish(&self);
}

/// Progress that goes nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _stage: &str, _total: u64) {}
    fn advance(&self, _done: u64) {}
    fn finish(&self) {}
}
