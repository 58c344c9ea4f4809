//! Reconnect back-off: exponential, capped, with jitter drawn from an injected seed.

/// How the session reconnects after losing its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// Whether to reconnect at all.
    pub enabled: bool,
    /// Delay before the first retry, in milliseconds.
    pub initial_delay_ms: u64,
    /// Cap of the delay, in milliseconds.
    pub max_delay_ms: u64,
    /// Factor applied to the delay after each failed attempt (at least 1); with a list of
    /// brokers ([`Options::brokers`](super::Options::brokers)), after each failed round
    /// through the list.
    pub multiplier: u32,
    /// Share of each delay, in percent (0–100), that is random: a delay `d` becomes a value
    /// drawn uniformly from `[d - d*jitter/100, d]`, so clients that lost the same broker do
    /// not all come back at once.
    pub jitter_percent: u8,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            enabled: true,
            initial_delay_ms: 500,
            max_delay_ms: 30_000,
            multiplier: 2,
            jitter_percent: 50,
        }
    }
}

/// A small deterministic random number generator (xorshift64*), seeded by the driver.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The delay before reconnect attempt number `attempt` (0 for the first retry): with a list of
/// brokers, the round through the list.
pub(crate) fn delay(policy: &ReconnectPolicy, attempt: u32, rng: &mut Rng) -> u64 {
    let mult = u64::from(policy.multiplier.max(1));
    let mut d = policy.initial_delay_ms;
    for _ in 0..attempt.min(64) {
        d = d.saturating_mul(mult);
        if d >= policy.max_delay_ms {
            break;
        }
    }
    let d = d.min(policy.max_delay_ms);
    let spread = d * u64::from(policy.jitter_percent.min(100)) / 100;
    if spread == 0 {
        return d;
    }
    d - rng.next_u64() % (spread + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps_with_bounded_jitter() {
        let p = ReconnectPolicy::default();
        let mut rng = Rng::new(7);
        for attempt in 0..20 {
            let base = (500u64 << attempt.min(16)).min(30_000);
            let d = delay(&p, attempt, &mut rng);
            assert!(
                d <= base && d >= base / 2,
                "attempt {attempt}: {d} vs {base}"
            );
        }
    }
}
