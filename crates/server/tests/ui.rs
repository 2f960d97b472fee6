//! The web UI as the app serves it: escaping, links under a route prefix,
//! lazy group details, filtering and paging. Browser behaviour (clicks,
//! the delete button, live filtering) is tested in `tests/ui` with Chromium.

use crate::util::{app, send};

#[tokio::test]
async fn label_values_and_help_are_escaped() {
    let (_, app) = app(&[]);
    let body =
        "# HELP m <b>bold</b> & more\n# TYPE m gauge\nm{v=\"<script>alert(1)</script>\"} 1\n";
    let r = send(&app, "PUT", "/metrics/job/x%3Cy%3E", body, &[]).await;
    assert_eq!(r.status, 200);
    let page = send(&app, "GET", "/", "", &[]).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.headers["content-type"], "text/html; charset=utf-8",
        "{:?}",
        page.headers
    );
    assert!(
        page.body.contains("&#34;x&lt;y&gt;&#34;") || page.body.contains("&quot;x&lt;y&gt;&quot;")
    );
    assert!(!page.body.contains("x<y>"));
    let path = "job@base64/eDx5Pg";
    assert!(
        page.body.contains(&format!("data-path=\"{path}\"")),
        "{}",
        page.body
    );
    let details = send(&app, "GET", &format!("/?group={path}"), "", &[]).await;
    assert_eq!(details.status, 200);
    assert!(details
        .body
        .contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(details.body.contains("&lt;b&gt;bold&lt;/b&gt; &amp; more"));
    assert!(!details.body.contains("<script>"));
    assert!(!details.body.contains("<b>"));
}

#[tokio::test]
async fn pages_live_under_the_route_prefix_with_relative_links() {
    let (_, app) = app(&["--web.route-prefix=/pgw"]);
    let r = send(
        &app,
        "PUT",
        "/pgw/metrics/job/j/region@base64/=",
        "a 1\n",
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    let page = send(&app, "GET", "/pgw/", "", &[]).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("href=\"./static/style.css?v="));
    assert!(page
        .body
        .contains("data-path=\"job@base64/ag/region@base64/=\""));
    let details = send(
        &app,
        "GET",
        "/pgw/?group=job%40base64%2Fag%2Fregion%40base64%2F%3D",
        "",
        &[],
    )
    .await;
    assert_eq!(details.status, 200);
    assert!(details.body.contains("<code>a</code>"));
    // The delete button's URL is a valid delete of exactly that group.
    let deleted = send(
        &app,
        "DELETE",
        "/pgw/metrics/job@base64/ag/region@base64/=",
        "",
        &[],
    )
    .await;
    assert_eq!(deleted.status, 202);
    let gone = send(
        &app,
        "GET",
        "/pgw/?group=job%40base64%2Fag%2Fregion%40base64%2F%3D",
        "",
        &[],
    )
    .await;
    assert_eq!(gone.status, 404);
    for asset in ["/pgw/static/style.css", "/pgw/static/ui.js"] {
        assert_eq!(
            send(&app, "GET", asset, "", &[]).await.status,
            200,
            "{asset}"
        );
    }
    assert_eq!(send(&app, "GET", "/", "", &[]).await.status, 404);
}

#[tokio::test]
async fn links_follow_the_external_url() {
    let (_, app) = app(&["--web.external-url=http://example.org/ext/"]);
    let page = send(&app, "GET", "/ext/status", "", &[]).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("href=\"/ext/static/style.css?v="));
    assert!(page.body.contains("web.external-url"));
    assert!(page.body.contains("http://example.org/ext/"));
}

#[tokio::test]
async fn groups_are_filtered_and_paged() {
    let (_, app) = app(&["--web.enable-admin-api"]);
    for i in 0..150 {
        let r = send(
            &app,
            "PUT",
            &format!("/metrics/job/bulk/instance/n{i:03}"),
            "a 1\n",
            &[],
        )
        .await;
        assert_eq!(r.status, 200);
    }
    send(
        &app,
        "PUT",
        "/metrics/job/backup/path@base64/L3Zhci90bXA",
        "b 1\n",
        &[],
    )
    .await;
    let page = send(&app, "GET", "/", "", &[]).await;
    assert!(page.body.contains("151 groups"));
    assert!(page.body.contains("Delete all 151 groups"));
    assert_eq!(page.body.matches("<details class=\"group\"").count(), 100);
    assert!(page.body.contains("Page 1 of 2"));
    let second = send(&app, "GET", "/?page=2&list", "", &[]).await;
    assert!(!second.body.contains("<html"), "list only");
    assert_eq!(second.body.matches("<details class=\"group\"").count(), 51);
    let filtered = send(&app, "GET", "/?q=path%3D%2Fvar", "", &[]).await;
    assert!(filtered.body.contains("1 of 151 groups match"));
    assert_eq!(filtered.body.matches("<details class=\"group\"").count(), 1);
    assert!(filtered
        .body
        .contains("path</span>=<span class=\"value\">&quot;/var/tmp&quot;"));
    let none = send(&app, "GET", "/?q=nothing-like-this", "", &[]).await;
    assert!(none.body.contains("No group matches the filter."));
}
