//! The CLI's view of a model run: a line per finished node on standard output (what scripts and
//! tests read) and, on a terminal, a bar under them naming the node being built.

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::models::progress::{Event, Progress, ProgressSink};

/// A bar for the run being reported, drawn on standard error (hidden when it is not a terminal).
pub struct Bar {
    bar: Mutex<Option<ProgressBar>>,
}

/// The CLI's progress: lines and a bar.
pub fn cli() -> Progress {
    Progress::new(Bar {
        bar: Mutex::new(None),
    })
}

fn new_bar(nodes: usize) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(nodes as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

impl ProgressSink for Bar {
    fn event(&self, event: &Event<'_>) {
        // A poisoned lock only means another event panicked while printing: keep reporting.
        let mut slot = self.bar.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            Event::RunStarted { nodes, .. } => {
                println!("{event}");
                *slot = Some(new_bar(*nodes));
            }
            Event::NodeStarted(node) => {
                if let Some(bar) = slot.as_ref() {
                    bar.set_message(node.name.clone());
                }
            }
            Event::Tests { results: [], .. } => {}
            Event::RunFinished { .. } => {
                if let Some(bar) = slot.take() {
                    bar.finish_and_clear();
                }
                println!("{event}");
            }
            _ => {
                let line = || println!("{event}");
                match slot.as_ref() {
                    Some(bar) => {
                        bar.suspend(line);
                        if matches!(event, Event::NodeFinished { .. }) {
                            bar.inc(1);
                        }
                    }
                    None => line(),
                }
            }
        }
    }
}
