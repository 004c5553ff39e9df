//! Heavy work runs with the GIL released, on rayon threads: the global pool
//! (one thread per core) or, with `threads=N`, a pool of N threads.
//!
//! Pools of N threads are kept for later calls, but a pool serves one call
//! at a time: Python threads calling with `threads=1` at once each get
//! their own pool and run in parallel, instead of queueing on a shared one.

use std::collections::BTreeMap;
use std::sync::Mutex;

use pyo3::prelude::*;
use rayon::ThreadPool;

use liverkit::Error;

use crate::errors::to_py;

/// Idle pools by thread count.
static IDLE: Mutex<BTreeMap<usize, Vec<ThreadPool>>> = Mutex::new(BTreeMap::new());

/// An idle pool of `n` threads, or a new one.
fn take(n: usize) -> Result<ThreadPool, Error> {
    if n == 0 {
        return Err(Error::parameter(
            "threads",
            n,
            "at least 1 thread, or None for one per core",
        ));
    }
    let idle = IDLE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_mut(&n)
        .and_then(Vec::pop);
    match idle {
        Some(p) => Ok(p),
        None => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("liverkit-{i}"))
            .build()
            .map_err(|e| Error::parameter("threads", n, format!("a thread count the system allows ({e})"))),
    }
}

/// Returns a pool for later calls.
fn give_back(n: usize, pool: ThreadPool) {
    IDLE.lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(n)
        .or_default()
        .push(pool);
}

/// Runs `f` without the GIL, on `threads` rayon threads (default: the
/// global pool), and turns its error into the Python exception.
pub fn run_detached<T, F>(py: Python<'_>, threads: Option<usize>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Result<T, Error> + Send,
{
    let pool = match threads {
        Some(n) => Some((n, take(n).map_err(|e| to_py(py, e))?)),
        None => None,
    };
    py.detach(move || match pool {
        Some((n, p)) => {
            let r = p.install(f);
            give_back(n, p);
            r
        }
        None => f(),
    })
    .map_err(|e| to_py(py, e))
}
