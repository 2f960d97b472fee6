//! Grouping keys (the job plus grouping labels that name a group on the
//! gateway) and their encoding into the gateway's URL path.
//!
//! The gateway routes `/metrics/job/<job>{/<label>/<value>}` after
//! percent-decoding the path, so a value containing `/` would split into
//! two segments. Such values, and the dot segments `.` and `..` (which URL
//! libraries and the Go router normalise away), are sent as
//! `<label>@base64/<URL-safe base64>`; an empty value is `<label>@base64/=`;
//! everything else is percent-encoded except RFC 3986's unreserved
//! characters.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use base64::Engine as _;

use crate::Error;

/// The job and grouping labels that identify one group on the gateway.
///
/// Labels are kept sorted by name (as Python's client sends them); setting a
/// label twice keeps the last value. Names are checked when the key is
/// used, so building one never fails.
///
/// ```
/// use pushgateway_client::GroupingKey;
/// let key = GroupingKey::new("backup")
///     .label("path", "/var/lib")
///     .label("instance", "db 1");
/// assert_eq!(
///     key.path()?,
///     "/metrics/job/backup/instance/db%201/path@base64/L3Zhci9saWI="
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupingKey {
    job: String,
    labels: BTreeMap<String, String>,
}

impl GroupingKey {
    /// A key with only the job.
    pub fn new(job: impl Into<String>) -> GroupingKey {
        GroupingKey {
            job: job.into(),
            labels: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) one grouping label.
    pub fn label(mut self, name: impl Into<String>, value: impl Into<String>) -> GroupingKey {
        self.labels.insert(name.into(), value.into());
        self
    }

    /// Adds (or replaces) several grouping labels, for example the map from
    /// [`instance_ip_grouping_key`].
    pub fn labels<I, K, V>(mut self, labels: I) -> GroupingKey
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.labels
            .extend(labels.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// The job name.
    pub fn job(&self) -> &str {
        &self.job
    }

    /// The grouping labels (without `job`), sorted by name.
    pub fn grouping_labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }

    /// Checks the key: a non-empty job, and label names that match
    /// `^[a-zA-Z_][a-zA-Z0-9_]*$`, do not start with `__` and are not `job`.
    pub fn validate(&self) -> Result<(), Error> {
        if self.job.is_empty() {
            return Err(Error::EmptyJob);
        }
        for name in self.labels.keys() {
            check_label_name(name)?;
            if name == "job" {
                return Err(Error::InvalidLabelName {
                    name: name.clone(),
                    reason: "the job is given separately, not as a grouping label",
                });
            }
        }
        Ok(())
    }

    /// The URL path of this group, `/metrics/job/<job>{/<label>/<value>}`,
    /// encoded as the gateway decodes it.
    pub fn path(&self) -> Result<String, Error> {
        self.validate()?;
        let mut path = String::from("/metrics");
        push_segment(&mut path, "job", &self.job);
        for (name, value) in &self.labels {
            push_segment(&mut path, name, value);
        }
        Ok(path)
    }
}

impl fmt::Display for GroupingKey {
    /// Formats as a label set: `{job="a",instance="b"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{job={:?}", self.job)?;
        for (name, value) in &self.labels {
            write!(f, ",{name}={value:?}")?;
        }
        f.write_str("}")
    }
}

/// Checks a label name for use in a grouping key or a pushed metric.
pub(crate) fn check_label_name(name: &str) -> Result<(), Error> {
    if !exposition::is_valid_legacy_label_name(name) {
        return Err(Error::InvalidLabelName {
            name: name.to_owned(),
            reason: "must match ^[a-zA-Z_][a-zA-Z0-9_]*$",
        });
    }
    if name.starts_with("__") {
        return Err(Error::InvalidLabelName {
            name: name.to_owned(),
            reason: "names starting with __ are reserved",
        });
    }
    Ok(())
}

/// Appends `/<name>/<value>` (or its base64 form) to `path`.
fn push_segment(path: &mut String, name: &str, value: &str) {
    path.push('/');
    path.push_str(name);
    if value.is_empty() {
        path.push_str("@base64/=");
    } else if value.contains('/') || value == "." || value == ".." {
        path.push_str("@base64/");
        base64::engine::general_purpose::URL_SAFE.encode_string(value, path);
    } else {
        path.push('/');
        percent_encode(path, value);
    }
}

/// Percent-encodes every byte but RFC 3986's unreserved characters.
fn percent_encode(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

/// A grouping key label `instance` set to this machine's outbound IP
/// address, as Python's `instance_ip_grouping_key()` gives it.
///
/// The address is the local side of a UDP socket "connected" to a
/// documentation address (RFC 5737 / RFC 3849): connecting a UDP socket only
/// consults the routing table and sends no packet. Without a route (no
/// network), the loopback address is used, as Python does on Linux.
///
/// ```
/// use pushgateway_client::{instance_ip_grouping_key, GroupingKey};
/// let key = GroupingKey::new("batch").labels(instance_ip_grouping_key()?);
/// let ip: std::net::IpAddr = key.grouping_labels()["instance"].parse()?;
/// assert!(!ip.is_unspecified());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn instance_ip_grouping_key() -> Result<BTreeMap<String, String>, Error> {
    let ip = outbound_ip()
        .or_else(|_| local_address_towards(IpAddr::V4(Ipv4Addr::LOCALHOST)))
        .map_err(|e| Error::io("finding this machine's IP address", e))?;
    Ok(BTreeMap::from([("instance".to_owned(), ip.to_string())]))
}

/// A grouping key label `instance` set to this machine's host name.
///
/// ```
/// use pushgateway_client::{instance_hostname_grouping_key, GroupingKey};
/// let key = GroupingKey::new("batch").labels(instance_hostname_grouping_key()?);
/// assert!(!key.grouping_labels()["instance"].is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn instance_hostname_grouping_key() -> Result<BTreeMap<String, String>, Error> {
    let name = gethostname::gethostname().into_string().map_err(|raw| {
        Error::io(
            "reading the host name",
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("host name {raw:?} is not UTF-8"),
            ),
        )
    })?;
    if name.is_empty() {
        return Err(Error::io(
            "reading the host name",
            std::io::Error::new(std::io::ErrorKind::NotFound, "the host name is empty"),
        ));
    }
    Ok(BTreeMap::from([("instance".to_owned(), name)]))
}

fn outbound_ip() -> std::io::Result<IpAddr> {
    local_address_towards(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))).or_else(|_| {
        local_address_towards(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)))
    })
}

/// The local address the kernel would use to reach `target` (no packet is sent).
fn local_address_towards(target: IpAddr) -> std::io::Result<IpAddr> {
    let bind: SocketAddr = match target {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(bind)?;
    socket.connect((target, 9))?;
    let ip = socket.local_addr()?.ip();
    if ip.is_unspecified() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AddrNotAvailable,
            "no local address",
        ));
    }
    Ok(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(key: GroupingKey) -> String {
        key.path().unwrap()
    }

    #[test]
    fn plain_values_are_kept_and_labels_sorted() {
        let key = GroupingKey::new("j").label("b", "2").label("a", "1");
        assert_eq!(path(key), "/metrics/job/j/a/1/b/2");
    }

    #[test]
    fn values_with_slash_go_base64() {
        assert_eq!(
            path(GroupingKey::new("a/b").label("p", "/var/tmp")),
            "/metrics/job@base64/YS9i/p@base64/L3Zhci90bXA="
        );
    }

    #[test]
    fn empty_values_are_base64_equals() {
        assert_eq!(
            path(GroupingKey::new("j").label("a", "").label("b", "x")),
            "/metrics/job/j/a@base64/=/b/x"
        );
    }

    #[test]
    fn dot_segments_go_base64() {
        assert_eq!(
            path(GroupingKey::new("..").label("a", ".")),
            "/metrics/job@base64/Li4=/a@base64/Lg=="
        );
        assert_eq!(
            path(GroupingKey::new("j").label("a", "...")),
            "/metrics/job/j/a/..."
        );
    }

    #[test]
    fn other_characters_are_percent_encoded() {
        assert_eq!(
            path(GroupingKey::new("j").label("a", "x y%+@=?#é~")),
            "/metrics/job/j/a/x%20y%25%2B%40%3D%3F%23%C3%A9~"
        );
    }

    #[test]
    fn bad_label_names_are_refused() {
        for name in ["", "1a", "a-b", "__a", "a.b", "é"] {
            let err = GroupingKey::new("j").label(name, "v").path().unwrap_err();
            assert!(
                matches!(&err, Error::InvalidLabelName { name: n, .. } if n == name),
                "{name}: {err}"
            );
        }
        let err = GroupingKey::new("j").label("job", "x").path().unwrap_err();
        assert!(matches!(err, Error::InvalidLabelName { .. }));
        assert!(GroupingKey::new("j").label("_a1", "v").path().is_ok());
    }

    #[test]
    fn empty_job_is_refused() {
        assert!(matches!(GroupingKey::new("").path(), Err(Error::EmptyJob)));
    }

    #[test]
    fn display_is_a_label_set() {
        let key = GroupingKey::new("j").label("a", "x\"y");
        assert_eq!(key.to_string(), r#"{job="j",a="x\"y"}"#);
    }

    #[test]
    fn instance_ip_is_an_address() {
        let labels = instance_ip_grouping_key().unwrap();
        let ip: IpAddr = labels["instance"].parse().unwrap();
        assert!(!ip.is_unspecified());
        assert_eq!(labels.len(), 1);
    }

    #[test]
    fn instance_hostname_is_the_host_name() {
        let labels = instance_hostname_grouping_key().unwrap();
        if cfg!(target_os = "linux") {
            let expected = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
            assert_eq!(labels["instance"], expected.trim_end());
        } else {
            assert!(!labels["instance"].is_empty());
        }
    }
}
