//! The options of object storage, shared by every command (`--endpoint`, the retry policy,
//! requests in flight), and `larder copy` with its progress bar.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Where an S3-compatible server is and how hard to retry it; for `s3://bucket/key`
/// locations. Credentials, region and, unless `--endpoint` is given, the endpoint come from the
/// AWS variables (docs/cli.md).
#[derive(clap::Args)]
pub(crate) struct S3Args {
    /// S3-compatible server URL (default: `AWS_ENDPOINT_URL`, else AWS); `http://` allows HTTP.
    #[arg(long, global = true, value_name = "URL")]
    endpoint: Option<String>,
    /// Retries of a request after a transient failure (reset, timeout, 5xx, throttling).
    #[arg(long, global = true, env = "LARDER_S3_RETRIES", default_value_t = 10)]
    retries: usize,
    /// No retry starts later than this many seconds after a request's first attempt.
    #[arg(
        long,
        global = true,
        env = "LARDER_S3_RETRY_TIMEOUT",
        default_value = "180.0",
        value_name = "SECS",
        value_parser = seconds
    )]
    retry_timeout: Duration,
    /// First wait before a retry, in seconds; each next one doubles, up to --backoff-max.
    #[arg(
        long,
        global = true,
        env = "LARDER_S3_BACKOFF",
        default_value = "0.1",
        value_name = "SECS",
        value_parser = seconds
    )]
    backoff: Duration,
    /// The longest wait between two retries, in seconds.
    #[arg(
        long,
        global = true,
        env = "LARDER_S3_BACKOFF_MAX",
        default_value = "15.0",
        value_name = "SECS",
        value_parser = seconds
    )]
    backoff_max: Duration,
    /// The longest one request may take, in seconds.
    #[arg(
        long,
        global = true,
        env = "LARDER_S3_TIMEOUT",
        default_value = "30.0",
        value_name = "SECS",
        value_parser = positive_seconds
    )]
    request_timeout: Duration,
    /// Requests in flight at once: chunks sent by a copy, chunks fetched by a read.
    #[arg(long, global = true, env = "LARDER_S3_CONCURRENCY", default_value_t = 16)]
    concurrency: usize,
    /// Ranges of one object less than this far apart are fetched in one request (0: never).
    #[arg(
        long,
        global = true,
        env = "LARDER_S3_COALESCE",
        default_value = "1M",
        value_name = "SIZE",
        value_parser = crate::parse_size
    )]
    coalesce: u64,
    /// Keep up to this much of the chunks read in memory for reading again (e.g. 256M; 0: off).
    #[arg(
        long,
        global = true,
        env = "LARDER_S3_CACHE",
        default_value = "0",
        value_name = "SIZE",
        value_parser = crate::parse_size
    )]
    cache: u64,
}

/// A number of seconds: finite, at least 0 and no more than a `Duration` holds (a value that
/// does not parse as one is a usage error, exit 2, as for every option).
fn seconds(text: &str) -> std::result::Result<Duration, String> {
    let v: f64 = text.trim().parse().map_err(|_| format!("expected seconds, found {text:?}"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("expected seconds >= 0, found {text}"));
    }
    Duration::try_from_secs_f64(v).map_err(|_| format!("{text} seconds is more than larder waits"))
}

/// As [`seconds`], and more than 0: a request that may take no time always times out.
fn positive_seconds(text: &str) -> std::result::Result<Duration, String> {
    let d = seconds(text)?;
    if d.is_zero() {
        return Err("expected seconds > 0 (every request would time out at once)".to_string());
    }
    Ok(d)
}

impl S3Args {
    /// Makes these the options of every object-storage connection of this run.
    pub(crate) fn apply(&self) {
        let mut o = larder::remote::S3Options::new();
        if let Some(e) = &self.endpoint {
            o.endpoint(e);
        }
        o.retries(self.retries)
            .retry_timeout(self.retry_timeout)
            .backoff(self.backoff, self.backoff_max)
            .timeout(self.request_timeout)
            .concurrency(self.concurrency)
            .coalesce(self.coalesce)
            .cache(self.cache);
        o.set_current();
    }
}

/// The progress bar's line: a bar, the share done, chunks, rate and ETA.
// Rates and fractions for display only: float rounding does not matter.
#[allow(clippy::cast_precision_loss, clippy::cast_sign_loss, clippy::cast_possible_truncation)]
fn progress_line(p: &larder::CopyProgress, secs: f64, at_start: u64) -> String {
    let frac = if p.bytes_total == 0 { 1.0 } else { p.bytes_done as f64 / p.bytes_total as f64 };
    let frac = frac.clamp(0.0, 1.0);
    let filled = (frac * 30.0) as usize;
    let rate = p.bytes_done.saturating_sub(at_start) as f64 / secs;
    let eta = p.bytes_total.saturating_sub(p.bytes_done) as f64 / rate.max(1.0);
    let mut line = format!(
        "[{}{}] {:5.1}%  {:.1} MB/s, ETA {eta:.0} s",
        "#".repeat(filled),
        "-".repeat(30 - filled),
        frac * 100.0,
        rate / 1e6
    );
    if p.chunks_total > 0 {
        let _ = write!(line, "  {} of {} chunks", p.chunks_done, p.chunks_total);
        if p.chunks_skipped > 0 {
            let _ = write!(line, " ({} already there)", p.chunks_skipped);
        }
    }
    line
}

/// `larder copy`: with a progress bar on a terminal for copies into object storage.
pub(crate) fn copy(
    src: &PathBuf,
    dst: &PathBuf,
    options: &larder::CopyOptions,
    quiet: bool,
) -> Result<()> {
    use std::io::IsTerminal;
    let show = !quiet && std::io::stderr().is_terminal();
    let start = Instant::now();
    let mut last = start;
    let mut drew = false;
    let mut at_start = None;
    let mut chunked = false;
    let mut bar = |p: &larder::CopyProgress| {
        let first = *at_start.get_or_insert(p.bytes_done);
        chunked |= p.chunks_total > 0;
        if !show || last.elapsed() < Duration::from_millis(100) {
            return;
        }
        last = Instant::now();
        let line = progress_line(p, start.elapsed().as_secs_f64().max(1e-9), first);
        eprint!("\r{line}\x1b[K");
        drew = true;
    };
    let r = larder::copy_with_progress(src, dst, options, &mut bar);
    if drew {
        eprintln!();
    }
    // A copy into Zarr in object storage that began sending chunks, or found an interrupted
    // one, can be continued.
    let resumable = chunked
        || r.as_ref().is_err_and(|e| e.to_string().contains("an interrupted copy is there"));
    let report = r.with_context(|| {
        let hint = if resumable { " (run it again with --resume to continue)" } else { "" };
        format!("copying {} to {}{hint}", src.display(), dst.display())
    })?;
    if !quiet {
        eprintln!("copied {} elements, {} bytes written", report.elements, report.bytes);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_line_shows_share_chunks_and_resumed_ones() {
        let p = larder::CopyProgress {
            bytes_done: 50,
            bytes_total: 100,
            chunks_done: 5,
            chunks_total: 10,
            chunks_skipped: 2,
        };
        let line = progress_line(&p, 1.0, 20);
        assert!(line.starts_with(&format!("[{}{}]  50.0%", "#".repeat(15), "-".repeat(15))));
        assert!(line.ends_with("5 of 10 chunks (2 already there)"), "{line}");
    }
}
