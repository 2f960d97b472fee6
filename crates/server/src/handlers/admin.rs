//! The admin API (`--web.enable-admin-api`): `PUT /api/v1/admin/wipe`,
//! and `DELETE /api/v1/admin/groups` (the groups `match[]` selects, maybe
//! only those pushed to longer ago than `older_than`, maybe as a dry run).

use axum::http::StatusCode;
use axum::response::Response;
use store::{DeleteMode, PushTime, WriteKind};

use crate::context::RequestContext;
use crate::error::AppError;
use crate::json::{object, string_map};
use crate::lifetime::parse_ttl;
use crate::response::{empty, json};
use crate::state::AppState;

/// Deletes every group, durably before answering.
pub(crate) async fn wipe(state: &AppState, context: &RequestContext) -> Result<Response, AppError> {
    context.note_target(|| "every group".into());
    let failed = |e| AppError::from_write(WriteKind::Wipe, e);
    let ticket = state.store().wipe().map_err(failed)?;
    ticket
        .durable()
        .await
        .map_err(|source| AppError::NotPersisted {
            kind: WriteKind::Wipe,
            source,
        })?;
    Ok(empty(StatusCode::ACCEPTED))
}

/// `DELETE /api/v1/admin/groups?match[]=…[&older_than=…][&dry_run=true]`:
/// deletes every selected group durably before answering with how many
/// and which (a dry run deletes nothing and lists what it would delete).
pub(crate) async fn delete_groups(
    state: &AppState,
    context: &RequestContext,
) -> Result<Response, AppError> {
    let query = context.uri.query();
    let selectors = super::api::selectors(query)?;
    context.note_target(|| {
        let texts: Vec<String> = selectors.iter().map(ToString::to_string).collect();
        texts.join(" or ")
    });
    if selectors.is_empty() {
        return Err(AppError::BadData(
            "at least one match[] selector is required, such as match[]={job=\"batch\"}".into(),
        ));
    }
    let (mut older_than, mut mode) = (None, DeleteMode::Delete);
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "older_than" => {
                let age = parse_ttl(&v)
                    .map_err(|e| AppError::BadData(format!("invalid older_than {v:?}: {e}")))?;
                older_than = Some(age);
            }
            "dry_run" => {
                mode = match &*v {
                    "true" | "1" => DeleteMode::DryRun,
                    "false" | "0" => DeleteMode::Delete,
                    other => {
                        return Err(AppError::BadData(format!(
                            "invalid dry_run {other:?}: true or false"
                        )))
                    }
                }
            }
            _ => {}
        }
    }
    let pushed_before = older_than.map(|age| PushTime::now().saturating_sub(age));
    let store = state.store();
    let (groups, tickets) = store
        .delete_matching(&selectors, pushed_before, mode)
        .map_err(|e| AppError::from_write(WriteKind::Delete, e))?;
    for ticket in tickets {
        store
            .durable(ticket)
            .await
            .map_err(|source| AppError::NotPersisted {
                kind: WriteKind::Delete,
                source,
            })?;
    }
    let mut listed = String::from("[");
    for (i, key) in groups.iter().enumerate() {
        if i > 0 {
            listed.push(',');
        }
        let mut labels = String::new();
        string_map(&mut labels, key.labels());
        object(&mut listed, vec![("labels".into(), labels)]);
    }
    listed.push(']');
    let deleted = match mode {
        DeleteMode::Delete => groups.len(),
        DeleteMode::DryRun => 0,
    };
    let mut entries = vec![
        ("deleted".to_string(), deleted.to_string()),
        ("groups".to_string(), listed),
    ];
    if mode == DeleteMode::DryRun {
        entries.push(("dry_run".to_string(), "true".to_string()));
    }
    let mut data = String::new();
    object(&mut data, entries);
    Ok(json(format!("{{\"status\":\"success\",\"data\":{data}}}")))
}
