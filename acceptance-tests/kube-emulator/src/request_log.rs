//! The log of every API request, so tests can assert which calls were made, in what order
//! and how they overlapped.

use serde::{Deserialize, Serialize};

use crate::faults::FaultAction;

/// One request as the emulator saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Arrival order (1-based).
    pub seq: u64,
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Raw query string (empty when none).
    pub query: String,
    /// Authenticated user (`system:anonymous` without credentials, `None` when the
    /// credentials were rejected).
    pub user: Option<String>,
    /// Response status (0 when the connection was dropped by a fault).
    pub status: u16,
    /// Milliseconds since the emulator started, when the request arrived.
    pub start_ms: f64,
    /// Milliseconds since the emulator started, when the response was ready.
    pub end_ms: f64,
    /// The injected fault, if one fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultAction>,
}

/// The request log.
#[derive(Debug, Default)]
pub struct RequestLog {
    next: u64,
    records: Vec<RequestRecord>,
}

impl RequestLog {
    /// The next sequence number.
    pub fn next_seq(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// Appends a finished request.
    pub fn push(&mut self, record: RequestRecord) {
        let at = self
            .records
            .iter()
            .rposition(|r| r.seq < record.seq)
            .map_or(0, |i| i + 1);
        self.records.insert(at, record);
    }

    /// Every record, by `seq`.
    pub fn records(&self) -> Vec<RequestRecord> {
        self.records.clone()
    }

    /// Forgets every record (sequence numbers continue).
    pub fn clear(&mut self) {
        self.records.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64) -> RequestRecord {
        RequestRecord {
            seq,
            method: "GET".into(),
            path: "/version".into(),
            query: String::new(),
            user: None,
            status: 200,
            start_ms: 0.0,
            end_ms: 1.0,
            fault: None,
        }
    }

    #[test]
    fn records_stay_in_arrival_order_when_finishing_out_of_order() {
        let mut log = RequestLog::default();
        let (a, b) = (log.next_seq(), log.next_seq());
        log.push(record(b));
        log.push(record(a));
        let seqs: Vec<u64> = log.records().iter().map(|r| r.seq).collect();
        assert_eq!(seqs, vec![1, 2]);
    }
}
