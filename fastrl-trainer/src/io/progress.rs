//! A one-line progress report on stderr with rate and ETA (redrawn in place on a
//! terminal, one line per 5% otherwise).

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Progress of `total` steps.
#[derive(Debug)]
pub struct Progress {
    what: &'static str,
    total: usize,
    start: Instant,
    tty: bool,
    last_pct: usize,
}

fn hms(s: f64) -> String {
    let s = s.max(0.0) as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

impl Progress {
    /// Starts the clock.
    pub fn new(what: &'static str, total: usize) -> Self {
        Progress {
            what,
            total,
            start: Instant::now(),
            tty: std::io::stderr().is_terminal(),
            last_pct: usize::MAX,
        }
    }

    /// Reports step `done` of the total with a status text.
    pub fn tick(&mut self, done: usize, status: &str) {
        let el = self.start.elapsed().as_secs_f64();
        let per = el / done.max(1) as f64;
        let eta = per * self.total.saturating_sub(done) as f64;
        let pct = done * 100 / self.total.max(1);
        let line = format!(
            "[{}] {done}/{} {pct:3}% | {:.2} s/step | elapsed {} | ETA {} | {status}",
            self.what,
            self.total,
            per,
            hms(el),
            hms(eta)
        );
        let mut e = std::io::stderr();
        if self.tty {
            let _ = write!(e, "\r\x1b[2K{line}");
        } else if pct / 5 != self.last_pct / 5 || done == self.total {
            let _ = writeln!(e, "{line}");
            self.last_pct = pct;
        }
        let _ = e.flush();
    }

    /// Ends the line.
    pub fn finish(&self) {
        if self.tty {
            crate::note!();
        }
    }
}
