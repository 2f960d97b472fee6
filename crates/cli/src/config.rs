//! Validated settings: the client built from the global options, and the
//! grouping key from `--job`/`-g`.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context as _};
use pushgateway_client::{BlockingClient, Client, Compression, GroupingKey, Retry};

use crate::args::{CompressionArg, Global, GroupArgs, GroupingLabels};
use crate::Usage;

/// Builds the client the global options describe. `--compression` applies
/// only if `pushes` (the subcommand sends bodies): it is a global option,
/// and the client refuses to delete with compression.
pub(crate) fn client(
    global: &Global,
    pushes: bool,
    ttl: Option<Duration>,
) -> anyhow::Result<BlockingClient> {
    base_url_only(&global.gateway)?;
    let compression = match global.compression {
        CompressionArg::Gzip if pushes => Compression::Gzip,
        CompressionArg::Snappy if pushes => Compression::Snappy,
        _ => Compression::None,
    };
    let mut builder = Client::builder(&global.gateway)
        .timeout(global.timeout)
        .retry(Retry::new(global.retries).initial_backoff(Duration::from_millis(500)))
        .compression(compression)
        .insecure_skip_verify(global.insecure_skip_verify);
    if let Some(auth) = &global.basic_auth {
        let (user, password) = match (auth.split_once(':'), &global.password_file) {
            (Some(_), Some(_)) => {
                bail!(Usage("give the password in --basic-auth USER:PASSWORD or in --password-file, not both".into()))
            }
            (Some((user, password)), None) => (user.to_owned(), password.to_owned()),
            (None, Some(file)) => (auth.clone(), read_secret(file, "password file")?),
            (None, None) => {
                bail!(Usage(
                    "--basic-auth needs USER:PASSWORD, or USER with --password-file".into()
                ))
            }
        };
        builder = builder.basic_auth(user, password);
    } else if global.password_file.is_some() {
        bail!(Usage("--password-file needs --basic-auth USER".into()));
    }
    if let Some(token) = &global.bearer_token {
        builder = builder.bearer_token(token.clone());
    } else if let Some(file) = &global.bearer_token_file {
        builder = builder.bearer_token(read_secret(file, "bearer token file")?);
    }
    // Blank entries (an empty line in PUSHGATEWAY_HEADERS) are skipped.
    for header in global.headers.iter().filter(|h| !h.trim().is_empty()) {
        let Some((name, value)) = header.split_once(':') else {
            bail!(Usage(format!("--header needs NAME:VALUE, got {header:?}")));
        };
        builder = builder.header(name.trim(), value.trim());
    }
    if let Some(ca) = &global.cacert {
        builder = builder.ca_file(ca);
    }
    if let (Some(cert), Some(key)) = (&global.cert, &global.key) {
        builder = builder.client_cert_files(cert, key);
    }
    if let Some(ttl) = ttl {
        builder = builder.ttl(ttl);
    }
    Ok(builder.build_blocking()?)
}

/// Refuses a `--gateway` that names a group or the metrics page rather
/// than the gateway: the group comes from `--job` and `-g`, and the gateway
/// would answer a doubled path with a puzzling "odd number of components".
fn base_url_only(gateway: &str) -> anyhow::Result<()> {
    let after_host = gateway
        .split_once("://")
        .map_or(gateway, |(_, rest)| rest)
        .split_once('/')
        .map_or("", |(_, path)| path);
    // The scheme and host, without the slash that starts the path.
    let scheme_host = &gateway[..gateway.len() - after_host.len()].trim_end_matches('/');
    let path = after_host.trim_end_matches('/');
    let metrics_at = path.split('/').position(|segment| segment == "metrics");
    if let Some(at) = metrics_at {
        let segments: Vec<&str> = path.split('/').collect();
        let base: String = segments[..at].iter().map(|s| format!("/{s}")).collect();
        let group = segments[at + 1..].join("/");
        let how = match group.strip_prefix("job/") {
            Some(rest) => {
                let mut parts = rest.split('/');
                let job = parts.next().unwrap_or("");
                let labels: Vec<String> = parts
                    .collect::<Vec<_>>()
                    .chunks(2)
                    .map(|p| format!(" -g {}={}", p[0], p.get(1).unwrap_or(&"")))
                    .collect();
                format!("give the group as --job {job}{}", labels.concat())
            }
            None => "give the group with --job and -g".into(),
        };
        anyhow::bail!(Usage(format!(
            "--gateway takes the gateway's base URL, not a path under /metrics: use --gateway {scheme_host}{base} and {how}"
        )));
    }
    Ok(())
}

/// The grouping key of `--job` and `-g`; a label given twice is an error.
pub(crate) fn grouping_key(group: &GroupArgs) -> anyhow::Result<GroupingKey> {
    key_of(&group.job, &group.labels)
}

/// The grouping key of a job and `-g` labels.
pub(crate) fn key_of(job: &str, labels: &GroupingLabels) -> anyhow::Result<GroupingKey> {
    no_duplicates(&labels.grouping, "grouping label")?;
    let mut key = GroupingKey::new(job);
    for (name, value) in &labels.grouping {
        key = key.label(name, value);
    }
    key.validate()?;
    Ok(key)
}

/// Refuses a label name given twice (`what` names the option's labels).
pub(crate) fn no_duplicates(labels: &[(String, String)], what: &str) -> anyhow::Result<()> {
    for (i, (name, _)) in labels.iter().enumerate() {
        if labels[..i].iter().any(|(n, _)| n == name) {
            bail!(Usage(format!("{what} {name:?} is given twice")));
        }
    }
    Ok(())
}

/// Reads a one-line secret, dropping the trailing line break.
fn read_secret(path: &Path, what: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the {what} {}", path.display()))?;
    Ok(text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text)
        .to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_lose_only_the_final_line_break() {
        let dir = std::env::temp_dir().join(format!("pushgw-secret-{}", std::process::id()));
        std::fs::write(&dir, "pa ss\r\n").unwrap();
        assert_eq!(read_secret(&dir, "x").unwrap(), "pa ss");
        std::fs::write(&dir, "pass\n\n").unwrap();
        assert_eq!(read_secret(&dir, "x").unwrap(), "pass\n");
        std::fs::remove_file(&dir).unwrap();
    }

    #[test]
    fn a_group_path_in_the_gateway_url_is_refused_with_the_fix() {
        let message = |url: &str| {
            base_url_only(url)
                .unwrap_err()
                .downcast::<Usage>()
                .unwrap()
                .0
        };
        assert_eq!(
            message("http://gw:9091/metrics/job/backup/host/db1"),
            "--gateway takes the gateway's base URL, not a path under /metrics: use --gateway \
             http://gw:9091 and give the group as --job backup -g host=db1"
        );
        assert!(message("https://gw/prefix/metrics/").contains("--gateway https://gw/prefix and"));
        assert!(base_url_only("http://gw:9091").is_ok());
        assert!(base_url_only("http://gw:9091/pushgateway/").is_ok());
        assert!(base_url_only("gw:9091").is_ok());
    }

    #[test]
    fn a_label_given_twice_is_a_usage_error() {
        let group = GroupArgs {
            job: "j".into(),
            labels: GroupingLabels {
                grouping: vec![("a".into(), "1".into()), ("a".into(), "2".into())],
            },
        };
        let err = grouping_key(&group).unwrap_err();
        assert!(err.downcast_ref::<Usage>().is_some(), "{err}");
    }
}
