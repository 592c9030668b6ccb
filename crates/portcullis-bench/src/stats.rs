//! Small measuring helpers: percentiles, per-request timing with repetitions, and the
//! process's resident memory (Linux `/proc/self/statm`), for the command-line reports.

use std::hint::black_box;
use std::time::Instant;

/// The `p`-th percentile (0–100) of sorted values (nearest rank).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Latency summary in nanoseconds.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Mean.
    pub mean: f64,
}

impl Summary {
    /// Summarizes samples (sorts them).
    pub fn of(mut samples: Vec<f64>) -> Summary {
        samples.sort_by(f64::total_cmp);
        let mean = samples.iter().sum::<f64>() / samples.len().max(1) as f64;
        Summary {
            p50: percentile(&samples, 50.0),
            p90: percentile(&samples, 90.0),
            p99: percentile(&samples, 99.0),
            mean,
        }
    }
}

/// Times each item: `reps` back-to-back runs, the time divided by `reps` (so the timer's own
/// cost, some 20 ns, is spread thin), after one warm-up run. Returns ns per item.
pub fn per_item<T, R>(items: &[T], reps: u32, mut run: impl FnMut(&T) -> R) -> Vec<f64> {
    items
        .iter()
        .map(|item| {
            black_box(run(black_box(item)));
            let start = Instant::now();
            for _ in 0..reps {
                black_box(run(black_box(item)));
            }
            start.elapsed().as_nanos() as f64 / f64::from(reps)
        })
        .collect()
}

/// Mean ns per item over `rounds` passes of the whole list in order (each item once per pass:
/// a stream of different requests, caches as cold as the workload makes them).
pub fn streaming<T, R>(items: &[T], rounds: u32, mut run: impl FnMut(&T) -> R) -> f64 {
    for item in items {
        black_box(run(black_box(item)));
    }
    let start = Instant::now();
    for _ in 0..rounds {
        for item in items {
            black_box(run(black_box(item)));
        }
    }
    start.elapsed().as_nanos() as f64 / (f64::from(rounds) * items.len().max(1) as f64)
}

/// The process's resident memory in bytes (0 where `/proc` is missing).
pub fn resident_bytes() -> u64 {
    resident_bytes_at("/proc/self/statm").unwrap_or(0)
}

/// Another process's resident memory in bytes (`None` when it is gone or unreadable).
pub fn resident_bytes_of(pid: u32) -> Option<u64> {
    resident_bytes_at(&format!("/proc/{pid}/statm"))
}

fn resident_bytes_at(statm: &str) -> Option<u64> {
    let statm = std::fs::read_to_string(statm).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// The `q` quantile (0..=1) of sorted durations (zero when there are none).
pub fn quantile(sorted: &[std::time::Duration], q: f64) -> std::time::Duration {
    sorted.get(((sorted.len() as f64 - 1.0) * q) as usize).copied().unwrap_or_default()
}

/// Formats a duration in milliseconds for a table.
pub fn ms(d: std::time::Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Formats nanoseconds for a table.
pub fn ns(value: f64) -> String {
    if value >= 1_000_000.0 {
        format!("{:.2} ms", value / 1_000_000.0)
    } else if value >= 10_000.0 {
        format!("{:.1} µs", value / 1_000.0)
    } else {
        format!("{value:.0} ns")
    }
}
