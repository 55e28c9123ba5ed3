//! A lock-free token bucket for logs a container can trigger (so a hostile workload
//! cannot flood the supervisor's stderr): at most `burst` lines, refilled at one line per
//! `interval`; suppressed lines are counted and reported with the next allowed one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct RateLimit {
    start: Instant,
    interval_ns: u64,
    burst: u64,
    /// Virtual time (ns since `start`) at which the bucket is empty ("GCRA" state).
    tat: AtomicU64,
    suppressed: AtomicU64,
}

impl RateLimit {
    pub fn new(interval: Duration, burst: u32) -> RateLimit {
        RateLimit {
            start: Instant::now(),
            interval_ns: interval.as_nanos().max(1) as u64,
            burst: u64::from(burst.max(1)),
            tat: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(n)` when a line may be logged now (`n` lines were suppressed since the last
    /// one); `None` when this one must be dropped.
    pub fn check(&self) -> Option<u64> {
        let now = self.start.elapsed().as_nanos() as u64;
        let window = self.interval_ns.saturating_mul(self.burst);
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let base = tat.max(now);
            if (base + self.interval_ns).saturating_sub(now) > window {
                self.suppressed.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            match self.tat.compare_exchange_weak(
                tat,
                base + self.interval_ns,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(self.suppressed.swap(0, Ordering::Relaxed)),
                Err(t) => tat = t,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_suppresses() {
        let rl = RateLimit::new(Duration::from_secs(3600), 3);
        assert_eq!(rl.check(), Some(0));
        assert_eq!(rl.check(), Some(0));
        assert_eq!(rl.check(), Some(0));
        assert_eq!(rl.check(), None);
        assert_eq!(rl.check(), None);
    }

    #[test]
    fn refills() {
        let rl = RateLimit::new(Duration::from_millis(5), 1);
        assert_eq!(rl.check(), Some(0));
        assert_eq!(rl.check(), None);
        std::thread::sleep(Duration::from_millis(15));
        assert_eq!(rl.check(), Some(1));
    }
}
