//! Placeholder until the Go gob decoder lands (being written).
#![allow(dead_code)]

pub(crate) struct GoGroup {
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) families: Vec<GoFamily>,
}

pub(crate) struct GoFamily {
    pub(crate) name: String,
    pub(crate) pushed_at_unix_nanos: i64,
    pub(crate) proto: Vec<u8>,
}

#[derive(Debug)]
pub(crate) struct GobError {
    pub(crate) offset: usize,
    pub(crate) message: String,
}

impl std::fmt::Display for GobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "byte {}: {}", self.offset, self.message)
    }
}

pub(crate) fn looks_like_gob(_head: &[u8]) -> bool {
    false
}

pub(crate) fn decode_go_file(_bytes: &[u8]) -> Result<Vec<GoGroup>, GobError> {
    Err(GobError {
        offset: 0,
        message: "not supported yet".into(),
    })
}
