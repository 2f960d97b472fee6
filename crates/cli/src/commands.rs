//! One function per subcommand except `run` (in `run.rs`).

use std::io::Write as _;

use anyhow::Context as _;
use pushgateway_client::{BlockingClient, DeleteMode, Gauges, GroupStatus, Payload};

use crate::args::{DeleteArgs, GaugeArgs, GaugesArgs, ListArgs, PushArgs, WipeArgs};
use crate::config::{grouping_key, key_of, no_duplicates};
use crate::{input, Usage};

/// `pushgw push`.
pub(crate) fn push(client: &BlockingClient, args: &PushArgs, verbose: bool) -> anyhow::Result<()> {
    let key = grouping_key(&args.group)?;
    let body = input::read(&args.file)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        anyhow::bail!(Usage(format!(
            "{} has no metrics",
            if args.file.as_os_str() == "-" {
                "standard input".into()
            } else {
                args.file.display().to_string()
            }
        )));
    }
    let payload = Payload::text(body);
    if verbose {
        show(client, &key, &payload, args.add);
    }
    if args.add {
        client.push_add(&key, &payload)
    } else {
        client.push(&key, &payload)
    }
    .with_context(|| format!("pushing to {key}"))?;
    if verbose {
        eprintln!("pushgw: pushed {} bytes to {key}", payload.body().len());
    }
    Ok(())
}

/// `-v`: what is about to be sent, method, group and body, on stderr.
fn show(
    client: &BlockingClient,
    key: &pushgateway_client::GroupingKey,
    payload: &Payload,
    add: bool,
) {
    let method = if add { "POST" } else { "PUT" };
    // Gauges go as protobuf; show them as the text the gateway will serve.
    let text = exposition::decode_protobuf_delimited(payload.body())
        .ok()
        .filter(|_| payload.content_type().contains("protobuf"))
        .and_then(|families| {
            let mut out = Vec::new();
            exposition::encode_text(&mut out, &families).ok()?;
            Some(out)
        });
    let body = String::from_utf8_lossy(text.as_deref().unwrap_or(payload.body()));
    eprintln!(
        "pushgw: {method} {} {key} ({} bytes):\n{}",
        client.gateway(),
        payload.body().len(),
        body.trim_end()
    );
}

/// `pushgw gauge`.
pub(crate) fn gauge(
    client: &BlockingClient,
    args: &GaugeArgs,
    verbose: bool,
) -> anyhow::Result<()> {
    let key = grouping_key(&args.group)?;
    no_duplicates(&args.label, "label")?;
    let mut gauges = Gauges::new(&args.name, &args.help_text);
    gauges.sample(args.value, args.label.iter().cloned());
    push_gauges(client, &key, &gauges, args.add, verbose)
}

/// `pushgw gauges`.
pub(crate) fn gauges(
    client: &BlockingClient,
    args: &GaugesArgs,
    verbose: bool,
) -> anyhow::Result<()> {
    let key = grouping_key(&args.group)?;
    let samples = input::gauge_samples(&input::read(&args.file)?)?;
    if samples.is_empty() {
        anyhow::bail!(Usage("no samples in the input".into()));
    }
    input::check_samples(&samples, &args.group_by)?;
    let mut gauges =
        Gauges::new(&args.name, &args.help_text).group_by(args.group_by.iter().cloned());
    for sample in samples {
        gauges.sample(sample.value, sample.labels);
    }
    push_gauges(client, &key, &gauges, args.add, verbose)
}

fn push_gauges(
    client: &BlockingClient,
    key: &pushgateway_client::GroupingKey,
    gauges: &Gauges,
    add: bool,
    verbose: bool,
) -> anyhow::Result<()> {
    // Check everything before the first push, so bad input pushes nothing.
    let pushes = gauges.pushes(key)?;
    for (group, payload) in &pushes {
        if verbose {
            show(client, group, payload, add);
        }
        if add {
            client.push_add(group, payload)
        } else {
            client.push(group, payload)
        }
        .with_context(|| format!("pushing to {group}"))?;
        if verbose {
            eprintln!("pushgw: pushed to {group}");
        }
    }
    Ok(())
}

/// `pushgw delete`.
pub(crate) fn delete(
    client: &BlockingClient,
    args: &DeleteArgs,
    verbose: bool,
) -> anyhow::Result<()> {
    if !args.matches.is_empty() {
        return delete_matching(client, args);
    }
    let key = key_of(args.job.as_deref().unwrap_or_default(), &args.labels)?;
    client
        .delete(&key)
        .with_context(|| format!("deleting {key}"))?;
    if verbose {
        eprintln!("pushgw: deleted {key}");
    }
    Ok(())
}

/// `pushgw delete --match …`: asks first on a terminal unless `--yes` or
/// `--dry-run`, then prints each group deleted (or that would be).
fn delete_matching(client: &BlockingClient, args: &DeleteArgs) -> anyhow::Result<()> {
    if !args.labels.grouping.is_empty() {
        anyhow::bail!(Usage(
            "give either --match or a group (-j/-g), not both".into()
        ));
    }
    let mode = if args.dry_run {
        DeleteMode::DryRun
    } else {
        DeleteMode::Delete
    };
    let selected = args.matches.join(" or ");
    if mode == DeleteMode::Delete && !args.yes {
        confirm(
            &format!(
                "Delete every group {selected} selects on {}?",
                client.gateway()
            ),
            "nothing deleted",
        )?;
    }
    let groups = client
        .delete_matching(&args.matches, args.older_than, mode)
        .with_context(|| {
            format!(
                "deleting the groups {selected} selects (the gateway needs --web.enable-admin-api)"
            )
        })?;
    let verb = match mode {
        DeleteMode::DryRun => "would delete",
        DeleteMode::Delete => "deleted",
    };
    let mut out = String::new();
    for labels in &groups {
        let pairs: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}={}", quote(v)))
            .collect();
        out.push_str(&format!("{verb} {{{}}}\n", pairs.join(",")));
    }
    if groups.is_empty() {
        out.push_str(&format!("no groups selected on {}\n", client.gateway()));
    }
    print_quietly(&out)
}

/// Asks `question` on a terminal; anything but yes is a usage error
/// saying `refused`.
fn confirm(question: &str, refused: &str) -> anyhow::Result<()> {
    use std::io::IsTerminal as _;
    if !std::io::stdin().is_terminal() {
        return Ok(());
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .context("reading the answer")?;
    if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        anyhow::bail!(Usage(format!("{refused} (answer y, or pass --yes)")));
    }
    Ok(())
}

/// Writes to standard output; a closed pipe (`| head`) is not an error.
fn print_quietly(out: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => written.context("writing to standard output"),
    }
}

/// `pushgw wipe`: asks first on a terminal, unless `--yes`.
pub(crate) fn wipe(client: &BlockingClient, args: &WipeArgs, verbose: bool) -> anyhow::Result<()> {
    if !args.yes {
        confirm(
            &format!("Delete every group on {}?", client.gateway()),
            "not wiped",
        )?;
    }
    client
        .wipe()
        .context("wiping the gateway (it needs --web.enable-admin-api)")?;
    if verbose {
        eprintln!("pushgw: wiped {}", client.gateway());
    }
    Ok(())
}

/// `pushgw list`.
pub(crate) fn list(client: &BlockingClient, args: &ListArgs) -> anyhow::Result<()> {
    let mut groups = client
        .groups_matching(&args.matches)
        .context("listing the groups")?;
    groups.sort_by(|a, b| a.labels.iter().cmp(b.labels.iter()));
    let out = if args.json {
        json(&groups)
    } else if groups.is_empty() {
        format!("no groups on {}\n", client.gateway())
    } else {
        table(&groups, if args.wide { usize::MAX } else { CELL_WIDTH })
    };
    // `pushgw list | head`: the reader has what it wanted.
    print_quietly(&out)
}

/// The widest a table cell is shown without `--wide`.
const CELL_WIDTH: usize = 60;

/// `cell`, cut to `width` characters with an ellipsis when longer.
fn cut(cell: String, width: usize) -> String {
    if cell.chars().count() <= width {
        return cell;
    }
    let mut cut: String = cell.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn json(groups: &[GroupStatus]) -> String {
    let array: Vec<serde_json::Value> = groups
        .iter()
        .map(|g| {
            serde_json::json!({
                "labels": g.labels,
                "last_push_successful": g.last_push_successful,
                "last_push_time": g.last_push_time,
                "last_failure_time": g.last_failure_time,
                "metrics": g.metric_names,
            })
        })
        .collect();
    format!("{}\n", serde_json::Value::Array(array))
}

fn table(groups: &[GroupStatus], width: usize) -> String {
    let mut rows = vec![[
        "GROUP".to_owned(),
        "LAST PUSH".to_owned(),
        "LAST FAILURE".to_owned(),
        "OK".to_owned(),
        "METRICS".to_owned(),
    ]];
    for g in groups {
        let labels = g
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={}", quote(v)))
            .collect::<Vec<_>>()
            .join(",");
        rows.push([
            cut(format!("{{{labels}}}"), width),
            g.last_push_time.map_or("-".to_owned(), rfc3339),
            g.last_failure_time.map_or("-".to_owned(), rfc3339),
            if g.last_push_successful { "yes" } else { "no" }.to_owned(),
            cut(g.metric_names.join(","), width),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Quotes a label value as Prometheus writes it.
fn quote(v: &str) -> String {
    let mut out = String::from("\"");
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339(unix: f64) -> String {
    let secs = unix.floor() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400.5), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_353_601.87), "2026-11-22T13:20:01Z");
        assert_eq!(rfc3339(4_107_542_399.0), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn long_cells_are_cut_to_the_width() {
        assert_eq!(cut("abcdef".into(), 6), "abcdef");
        assert_eq!(cut("abcdefg".into(), 6), "abcde…");
        assert_eq!(cut("ééééééé".into(), 3), "éé…");
    }

    #[test]
    fn label_values_are_quoted() {
        assert_eq!(quote("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
    }
}
