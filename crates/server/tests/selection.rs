//! Listing groups by `match[]` selector and deleting them by selector and
//! age (`DELETE /api/v1/admin/groups`).

use crate::util::{app, send};

async fn fill(app: &axum::Router) {
    for path in [
        "/metrics/job/etl-daily/instance/db1",
        "/metrics/job/etl-daily/instance/db2",
        "/metrics/job/etl-hourly/instance/db1",
        "/metrics/job/backup",
    ] {
        assert_eq!(send(app, "PUT", path, "m 1\n", &[]).await.status, 200);
    }
}

/// The groups of an API answer, as `job/instance` (instance `-` if none),
/// sorted.
fn listed(body: &str) -> Vec<String> {
    let doc: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let groups = doc["data"].get("groups").unwrap_or(&doc["data"]);
    groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let labels = &g["labels"];
            format!(
                "{}/{}",
                labels["job"].as_str().unwrap(),
                labels["instance"].as_str().unwrap_or("-")
            )
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn query(selectors: &[&str]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for s in selectors {
        q.append_pair("match[]", s);
    }
    q.finish()
}

#[tokio::test]
async fn match_selects_groups_by_each_operator_and_unions() {
    let (_, app) = app(&[]);
    fill(&app).await;
    let get = |selectors: &'static [&'static str]| {
        let app = app.clone();
        async move {
            let reply = send(
                &app,
                "GET",
                &format!("/api/v1/metrics?{}", query(selectors)),
                "",
                &[],
            )
            .await;
            assert_eq!(reply.status, 200, "{selectors:?}: {}", reply.body);
            listed(&reply.body)
        }
    };
    assert_eq!(get(&[r#"{job="backup"}"#]).await, ["backup/-"]);
    assert_eq!(
        get(&[r#"{job=~"etl-.*",instance!="db1"}"#]).await,
        ["etl-daily/db2"]
    );
    // Anchored: "etl" alone matches no job.
    assert!(get(&[r#"{job=~"etl"}"#]).await.is_empty());
    assert_eq!(get(&[r#"{job!~"etl-.*",job=~".+"}"#]).await, ["backup/-"]);
    assert_eq!(
        get(&[r#"{job="etl-hourly"}"#, r#"{job="backup"}"#]).await,
        ["backup/-", "etl-hourly/db1"]
    );
    // No match[]: every group, as in Go.
    assert_eq!(get(&[]).await.len(), 4);
}

#[tokio::test]
async fn a_bad_selector_is_a_400_saying_what_is_wrong() {
    let (_, app) = app(&["--web.enable-admin-api"]);
    fill(&app).await;
    for (method, path) in [
        ("GET", "/api/v1/metrics"),
        ("DELETE", "/api/v1/admin/groups"),
    ] {
        for (selector, problem) in [
            (r#"job="a""#, "expected '{' at position 0"),
            (r#"{job=~"("}"#, "invalid regex"),
            ("{}", "does not match the empty value"),
        ] {
            let reply = send(
                &app,
                method,
                &format!("{path}?{}", query(&[selector])),
                "",
                &[],
            )
            .await;
            assert_eq!(reply.status, 400, "{method} {selector}");
            let doc: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
            assert_eq!(doc["status"], "error");
            assert_eq!(doc["errorType"], "bad_data");
            assert!(
                doc["error"].as_str().unwrap().contains(problem),
                "{}",
                reply.body
            );
        }
    }
    assert_eq!(
        send(&app, "GET", "/api/v1/metrics", "", &[]).await.status,
        200
    );
    let api = send(&app, "GET", "/api/v1/metrics", "", &[]).await.body;
    assert_eq!(listed(&api).len(), 4, "nothing was deleted");
}

#[tokio::test]
async fn delete_by_selector_dry_run_and_older_than() {
    let (_, app) = app(&["--web.enable-admin-api"]);
    fill(&app).await;
    let delete = |params: String| {
        let app = app.clone();
        async move {
            send(
                &app,
                "DELETE",
                &format!("/api/v1/admin/groups?{params}"),
                "",
                &[],
            )
            .await
        }
    };
    let etl = query(&[r#"{job=~"etl-.*"}"#]);
    // A dry run lists and deletes nothing.
    let dry = delete(format!("{etl}&dry_run=true")).await;
    assert_eq!(dry.status, 200, "{}", dry.body);
    let doc: serde_json::Value = serde_json::from_str(&dry.body).unwrap();
    assert_eq!(doc["data"]["deleted"], 0);
    assert_eq!(doc["data"]["dry_run"], true);
    assert_eq!(
        listed(&dry.body),
        ["etl-daily/db1", "etl-daily/db2", "etl-hourly/db1"]
    );
    // Pushed just now: none is older than an hour.
    let recent = delete(format!("{etl}&older_than=1h")).await;
    assert_eq!(recent.status, 200);
    assert!(listed(&recent.body).is_empty(), "{}", recent.body);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        send(
            &app,
            "PUT",
            "/metrics/job/etl-daily/instance/db1",
            "m 2\n",
            &[]
        )
        .await
        .status,
        200
    );
    // Older than 200 ms: all but the one pushed again.
    let old = delete(format!("{etl}&older_than=200ms")).await;
    let doc: serde_json::Value = serde_json::from_str(&old.body).unwrap();
    assert_eq!(doc["data"]["deleted"], 2, "{}", old.body);
    assert!(doc["data"].get("dry_run").is_none());
    assert_eq!(listed(&old.body), ["etl-daily/db2", "etl-hourly/db1"]);
    let api = send(&app, "GET", "/api/v1/metrics", "", &[]).await.body;
    assert_eq!(listed(&api), ["backup/-", "etl-daily/db1"]);
    // Parameters that are wrong, and match[] missing.
    for (params, problem) in [
        (String::new(), "at least one match[]"),
        (format!("{etl}&older_than=soon"), "invalid older_than"),
        (format!("{etl}&dry_run=maybe"), "invalid dry_run"),
    ] {
        let reply = delete(params.clone()).await;
        assert_eq!(reply.status, 400, "{params}");
        assert!(reply.body.contains(problem), "{}", reply.body);
    }
}

#[tokio::test]
async fn without_the_admin_api_the_route_is_refused_as_wipe_is() {
    let (_, app) = app(&[]);
    fill(&app).await;
    let wipe = send(&app, "PUT", "/api/v1/admin/wipe", "", &[]).await;
    let groups = send(
        &app,
        "DELETE",
        &format!("/api/v1/admin/groups?{}", query(&[r#"{job="backup"}"#])),
        "",
        &[],
    )
    .await;
    assert_eq!(groups.status, wipe.status);
    assert_eq!(groups.body, wipe.body);
    let api = send(&app, "GET", "/api/v1/metrics", "", &[]).await.body;
    assert_eq!(listed(&api).len(), 4);
}
