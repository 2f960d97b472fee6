//! `pushgw list`: a table, or JSON.

use crate::cli::pushgw;
use crate::util::Gateway;

both!(list_shows_groups_times_and_outcomes, |kind| {
    let gw = Gateway::start(kind);
    let out = pushgw(&["list"]).at(&gw).success();
    assert_eq!(out.stdout, format!("no groups on {}\n", gw.url()));
    let out = pushgw(&["list", "--json"]).at(&gw).success();
    assert_eq!(out.stdout, "[]\n");
    pushgw(&["push", "-j", "good", "-g", "path=/srv"])
        .at(&gw)
        .stdin("# TYPE x counter\nx 1\ny 2\n")
        .success();
    pushgw(&["push", "-j", "bad"])
        .at(&gw)
        .stdin("z 1\n")
        .success();
    pushgw(&["push", "-j", "bad", "--add"])
        .at(&gw)
        .stdin("# TYPE x gauge\nx 1\n")
        .fails_with(3);

    let table = pushgw(&["list"]).at(&gw).success().stdout;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("GROUP "), "{table}");
    let bad: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(bad[0], "{job=\"bad\"}", "{table}");
    assert!(bad[1].ends_with('Z') && bad[2].ends_with('Z'), "{table}");
    assert_eq!(&bad[3..], ["no", "z"], "{table}");
    let good: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(good[0], "{job=\"good\",path=\"/srv\"}", "{table}");
    assert_eq!(&good[2..], ["-", "yes", "x,y"], "{table}");

    let json: serde_json::Value =
        serde_json::from_str(&pushgw(&["list", "--json"]).at(&gw).success().stdout).unwrap();
    let groups = json.as_array().unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(
        groups[1]["labels"],
        serde_json::json!({"job": "good", "path": "/srv"})
    );
    assert_eq!(groups[1]["last_push_successful"], true);
    assert!(groups[1]["last_push_time"].as_f64().unwrap() > 1.6e9);
    assert_eq!(groups[1]["last_failure_time"], serde_json::Value::Null);
    assert_eq!(groups[1]["metrics"], serde_json::json!(["x", "y"]));
    assert_eq!(groups[0]["last_push_successful"], false);
});

both!(long_cells_are_cut_unless_wide, |kind| {
    let gw = Gateway::start(kind);
    let long = "v".repeat(5000);
    pushgw(&[
        "gauge",
        "-j",
        "wide",
        "-g",
        &format!("path={long}"),
        "-n",
        "x",
        "1",
    ])
    .at(&gw)
    .success();
    let table = pushgw(&["list"]).at(&gw).success().stdout;
    let widest = table.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest < 160, "{widest} characters wide:\n{table}");
    assert!(table.contains('…'), "{table}");
    let wide = pushgw(&["list", "--wide"]).at(&gw).success().stdout;
    assert!(wide.contains(&long), "--wide shows the whole value");
});

both!(a_closed_pipe_ends_list_quietly, |kind| {
    use std::io::{BufRead as _, BufReader};
    let gw = Gateway::start(kind);
    for i in 0..300 {
        pushgw(&[
            "gauge",
            "-j",
            &format!("job{i}"),
            "-g",
            &format!("path={}", "p".repeat(200)),
            "-n",
            "x",
            "1",
        ])
        .at(&gw)
        .success();
    }
    // `pushgw list | head -1`: the reader leaves after one line.
    let mut child = pushgw(&["list", "--wide"]).at(&gw).spawn();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("GROUP"), "{first}");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "nothing said about the pipe"
    );
});
