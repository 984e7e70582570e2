//! What machine this is, for benchmark records and the tuning cache's key:
//! on CPU drivers the CPU is the device, and machines of one kind differ
//! in it (AVX-512 against AVX2) enough to change which kernel is fastest.

/// The first `model name` in /proc/cpuinfo (Linux), if any.
pub fn cpu_model() -> Option<String> {
    cpuinfo_field("model name")
}

/// The vector-instruction flags of the CPU that decide kernel speed on CPU
/// drivers (`avx2`, `fma`, `avx512f`, ...), from /proc/cpuinfo; empty
/// where it cannot be read.
pub fn cpu_vector_flags() -> Vec<String> {
    const KNOWN: [&str; 8] = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl"];
    let flags = cpuinfo_field("flags").or_else(|| cpuinfo_field("Features")).unwrap_or_default();
    let present: Vec<&str> = flags.split_whitespace().collect();
    KNOWN.iter().filter(|f| present.contains(f)).map(|f| f.to_string()).collect()
}

fn cpuinfo_field(name: &str) -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// This process's peak resident memory so far (`VmHWM` in
/// /proc/self/status, Linux), in bytes; `None` where it cannot be read.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}
