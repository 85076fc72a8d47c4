//! What a model run, a test run or a period close reports as it goes. The runner only emits
//! events; whoever runs it chooses how they are shown: the CLI draws a progress bar above its
//! lines (`commands::progress`), the server writes them to its log, a test records them.

use std::fmt;
use std::sync::Arc;

use super::system::TestResult;

/// How one node of a run ended.
#[derive(Debug, Clone)]
pub enum NodeOutcome {
    Built {
        seconds: f64,
        rows: Option<u64>,
        note: Option<String>,
    },
    Failed {
        message: String,
    },
    Skipped {
        upstream: String,
    },
}

/// Where in the run a node is, and what it is: `[3/30] model gold.x (table)`.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub index: usize,
    pub total: usize,
    pub kind: &'static str,
    pub name: String,
    pub materialization: String,
}

#[derive(Debug, Clone)]
pub enum Event<'a> {
    RunStarted {
        run_id: &'a str,
        nodes: usize,
    },
    NodeStarted(&'a NodeInfo),
    NodeFinished {
        node: &'a NodeInfo,
        outcome: &'a NodeOutcome,
        /// Rows the node's build and tests read, and those read by its tests alone.
        rows_read: u64,
        read_by_tests: u64,
        /// The process's peak resident memory while the node ran (`peak_rss.rs`), if known.
        peak_rss: Option<u64>,
    },
    /// Data test results; `nested` when they belong to the node just reported.
    Tests {
        results: &'a [TestResult],
        nested: bool,
    },
    RunFinished {
        ok: usize,
        failed: usize,
        skipped: usize,
    },
    /// A step of a longer job around runs (a period close, a replay).
    Step(&'a str),
}

impl fmt::Display for NodeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}/{}] {} {} ({})",
            self.index, self.total, self.kind, self.name, self.materialization
        )
    }
}

/// The text of an event: one line, or one per test result.
impl fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::RunStarted { run_id, nodes } => write!(f, "run {run_id}: {nodes} node(s)"),
            Event::NodeStarted(node) => write!(f, "{node} ..."),
            Event::NodeFinished {
                node,
                outcome,
                rows_read,
                read_by_tests,
                peak_rss,
            } => match outcome {
                NodeOutcome::Skipped { upstream } => {
                    write!(f, "{node} SKIPPED (upstream {upstream} did not build)")
                }
                NodeOutcome::Built {
                    seconds,
                    rows,
                    note,
                } => {
                    write!(f, "{node} OK in {seconds:.2}s")?;
                    if let Some(rows) = rows {
                        write!(f, ", {rows} rows")?;
                    }
                    if let Some(note) = note {
                        write!(f, ", {note}")?;
                    }
                    if let Some(bytes) = peak_rss {
                        write!(f, ", peak RSS {} MiB", bytes >> 20)?;
                    }
                    write!(f, ", read {rows_read} rows ({read_by_tests} by tests)")
                }
                NodeOutcome::Failed { message } => write!(
                    f,
                    "{node} ERROR: {message} (read {rows_read} rows ({read_by_tests} by tests))"
                ),
            },
            Event::Tests { results, nested } => {
                let indent = if *nested { "      " } else { "" };
                for (i, r) in results.iter().enumerate() {
                    let detail = match (&r.message, r.failing_rows) {
                        (Some(m), _) => format!(": {m}"),
                        (None, Some(n)) if n > 0 => format!(" ({n} failing rows)"),
                        _ => String::new(),
                    };
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(
                        f,
                        "{indent}[{}/{}] {} {}{detail}",
                        i + 1,
                        results.len(),
                        r.status.to_uppercase(),
                        r.test
                    )?;
                }
                Ok(())
            }
            Event::RunFinished {
                ok,
                failed,
                skipped,
            } => write!(f, "done: {ok} ok, {failed} failed, {skipped} skipped"),
            Event::Step(text) => f.write_str(text),
        }
    }
}

/// Receives a run's events.
pub trait ProgressSink: Send + Sync {
    fn event(&self, event: &Event<'_>);
}

/// The events' lines on standard output, where the server keeps its log. Starts are not
/// written: a line per finished node says all.
#[derive(Debug, Default)]
pub struct LogLines;

impl ProgressSink for LogLines {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::NodeStarted(_) => {}
            Event::Tests { results: [], .. } => {}
            _ => println!("{event}"),
        }
    }
}

/// Nothing shown (the caller reads the report and `system.model_runs`).
#[derive(Debug, Default)]
pub struct Quiet;

impl ProgressSink for Quiet {
    fn event(&self, _: &Event<'_>) {}
}

/// The sink a run reports to; log lines unless the caller chooses another.
#[derive(Clone)]
pub struct Progress(pub Arc<dyn ProgressSink>);

impl Progress {
    pub fn new(sink: impl ProgressSink + 'static) -> Self {
        Self(Arc::new(sink))
    }

    pub fn event(&self, event: &Event<'_>) {
        self.0.event(event);
    }

    pub fn step(&self, text: &str) {
        self.event(&Event::Step(text));
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new(LogLines)
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Progress")
    }
}
