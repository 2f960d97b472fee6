//! The handlers, by area: pushes and deletes of groups, the JSON API, the
//! admin API, and the lifecycle endpoints. Scrapes and the web UI have
//! modules of their own; routing, authentication and turning errors into
//! responses are the dispatcher's (`routes`).

pub(crate) mod admin;
pub(crate) mod api;
pub(crate) mod lifecycle;
pub(crate) mod push;
