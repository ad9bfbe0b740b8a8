//! The client's deadline, from the `grpc-timeout` header.

use std::time::Duration;

/// `grpc-timeout` as the gRPC HTTP/2 protocol defines it: up to 8 digits and a unit
/// (`H`, `M`, `S`, `m`, `u`, `n`). Anything else is treated as no deadline.
pub(super) fn from_headers(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}
