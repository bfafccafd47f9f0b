//! An open-loop webhook load generator: sends pre-signed requests at a fixed rate and measures
//! each latency from the moment the request was *due*, not when it was sent, so a server that
//! stalls is charged for the requests queued behind the stall (no coordinated omission).
//!
//! Input is the `signature<TAB>body` file written by `shared/bench/gen.py`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

/// What to send, how fast, for how long.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// Full webhook URL.
    pub url: String,
    /// `(signature, body)` pairs, cycled through.
    pub requests: Arc<Vec<(String, String)>>,
    /// Requests per second.
    pub rate: u32,
    /// How long to send.
    pub duration: Duration,
    /// Most requests in flight at once; beyond it a request counts as failed (the server is
    /// not keeping up), which keeps the generator's own memory bounded.
    pub max_in_flight: usize,
}

/// The outcome.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub sent: usize,
    pub ok: usize,
    pub failed: usize,
    pub elapsed: Duration,
    /// Latencies of successful requests, sorted, in microseconds.
    pub latencies_us: Vec<u64>,
}

impl LoadReport {
    /// The `q` quantile (0–1) of successful latencies, in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let rank = ((self.latencies_us.len() as f64 - 1.0) * q).round() as usize;
        self.latencies_us[rank.min(self.latencies_us.len() - 1)] as f64 / 1_000.0
    }

    /// Acknowledged requests per second.
    pub fn ok_per_sec(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "sent {} in {:.1} s: {} ok ({:.0}/s), {} failed",
            self.sent,
            self.elapsed.as_secs_f64(),
            self.ok,
            self.ok_per_sec(),
            self.failed
        )?;
        write!(
            f,
            "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
            self.quantile_ms(0.5),
            self.quantile_ms(0.9),
            self.quantile_ms(0.99),
            self.quantile_ms(0.999),
            self.quantile_ms(1.0)
        )
    }
}

/// Parses a `gen.py` file: one `signature<TAB>body` per line.
pub fn parse_requests(text: &str) -> Result<Vec<(String, String)>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, line)| {
            line.split_once('\t')
                .map(|(s, b)| (s.to_owned(), b.to_owned()))
                .ok_or_else(|| format!("line {}: expected `signature<TAB>body`", i + 1))
        })
        .collect()
}

/// Runs the plan to completion.
pub async fn run(plan: LoadPlan, http: reqwest::Client) -> LoadReport {
    let interval = Duration::from_secs_f64(1.0 / f64::from(plan.rate.max(1)));
    let total = (plan.duration.as_secs_f64() * f64::from(plan.rate)) as usize;
    let slots = Arc::new(Semaphore::new(plan.max_in_flight));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Option<u64>>();
    let start = Instant::now();
    let mut failed_to_start = 0;
    for n in 0..total {
        let due = start + interval.mul_f64(n as f64);
        tokio::time::sleep_until(due.into()).await;
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            failed_to_start += 1;
            continue;
        };
        let (http, tx) = (http.clone(), tx.clone());
        let (sig, body) = plan.requests[n % plan.requests.len()].clone();
        let url = plan.url.clone();
        tokio::spawn(async move {
            let result = http
                .post(url)
                .header("content-type", "application/json")
                .header("x-line-signature", sig)
                .body(body)
                .send()
                .await;
            let latency = due.elapsed().as_micros() as u64;
            let ok = matches!(&result, Ok(r) if r.status().is_success());
            let _ = tx.send(ok.then_some(latency));
            drop(permit);
        });
    }
    drop(tx);
    let mut report = LoadReport {
        sent: total,
        ok: 0,
        failed: failed_to_start,
        elapsed: Duration::ZERO,
        latencies_us: Vec::with_capacity(total),
    };
    while let Some(result) = rx.recv().await {
        match result {
            Some(us) => {
                report.ok += 1;
                report.latencies_us.push(us);
            }
            None => report.failed += 1,
        }
    }
    report.elapsed = start.elapsed();
    report.latencies_us.sort_unstable();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gen_py_lines_and_names_bad_ones() {
        let reqs = parse_requests("sig1\t{\"a\":1}\nsig2\t{}\n").expect("parse");
        assert_eq!(
            reqs,
            vec![
                ("sig1".into(), "{\"a\":1}".into()),
                ("sig2".into(), "{}".into())
            ]
        );
        assert_eq!(
            parse_requests("no tab here").expect_err("a line without a tab"),
            "line 1: expected `signature<TAB>body`"
        );
    }

    #[test]
    fn quantiles_pick_ranks() {
        let report = LoadReport {
            sent: 4,
            ok: 4,
            failed: 0,
            elapsed: Duration::from_secs(1),
            latencies_us: vec![1_000, 2_000, 3_000, 4_000],
        };
        assert_eq!(report.quantile_ms(0.0), 1.0);
        assert_eq!(report.quantile_ms(1.0), 4.0);
        assert_eq!(report.ok_per_sec(), 4.0);
    }
}
