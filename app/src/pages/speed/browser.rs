//! The speed test's browser half: runs the measurement (`run.rs`) and shows its progress.

use super::run::{run_all, SpeedConfig};
use super::{label, SpeedView};
use leptos::prelude::*;

#[derive(Clone, Copy)]
pub struct SpeedHandle {
    view: SpeedView,
}

pub fn start(view: SpeedView) -> SpeedHandle {
    SpeedHandle { view }
}

impl SpeedHandle {
    /// Measures `n` round trips of `size` bytes over each transport in turn.
    pub fn run(&self, n: usize, size: usize, pipelined: bool) {
        let SpeedView { running, progress, results, error } = self.view;
        running.set(true);
        error.set(None);
        results.set(None);
        let run_id = uuid::Uuid::new_v4().simple().to_string();
        leptos::task::spawn_local(async move {
            let report = move |transport: &'static str, done: usize| {
                progress.set(Some((format!("{}: {done} / {n}", label(transport)), done as f64 / n as f64)))
            };
            match run_all(SpeedConfig { n, size, pipelined }, run_id, report).await {
                Ok(list) => results.set(Some(list)),
                Err(e) => error.set(Some(format!("The run failed: {e}"))),
            }
            progress.set(None);
            running.set(false);
        });
    }
}
