//! What the benchmarks read about a process from Linux's `/proc`: CPU time and memory.

use anyhow::Context as _;

/// A process to read about: this one, or another by its id.
#[derive(Debug, Clone, Copy)]
pub enum Process {
    Current,
    Id(u32),
}

impl Process {
    fn path(self, file: &str) -> String {
        match self {
            Process::Current => format!("/proc/self/{file}"),
            Process::Id(pid) => format!("/proc/{pid}/{file}"),
        }
    }

    /// CPU time (user + system) used so far, in seconds.
    pub fn cpu_seconds(self) -> anyhow::Result<f64> {
        let path = self.path("stat");
        let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
        let rest = stat
            .rsplit_once(')')
            .map(|(_, r)| r)
            .with_context(|| format!("unexpected {path}"))?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = fields
            .get(11..13)
            .with_context(|| format!("short {path}"))?
            .iter()
            .map(|f| {
                f.parse::<f64>()
                    .with_context(|| format!("unexpected {path}"))
            })
            .sum::<anyhow::Result<f64>>()?;
        // Linux reports in clock ticks of 1/100 s (USER_HZ) on every architecture we run on.
        Ok(ticks / 100.0)
    }

    /// A `kB` field of `/proc/…/status` such as `VmRSS:` or `VmHWM:`, in KiB.
    pub fn status_kib(self, field: &str) -> anyhow::Result<u64> {
        let path = self.path("status");
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {field} in {path}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = Process::Current;
        assert!(me.cpu_seconds().expect("stat") >= 0.0);
        assert!(me.status_kib("VmRSS:").expect("status") > 0);
        assert!(me.status_kib("NoSuchField:").is_err());
    }
}
