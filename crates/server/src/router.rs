//! Request routing with the observable behaviour of the Go Pushgateway's
//! stack: Go's `ServeMux` in front (path cleaning, 301 for unclean paths,
//! `/api/v1` → `/api/v1/`) and httprouter behind it (trailing-slash and
//! case-fixing redirects, 405 with `Allow`, automatic `OPTIONS`).
//!
//! httprouter's redirect decisions depend on the shape of its radix tree
//! (which static prefixes end in a node of their own), so this module
//! keeps one such tree per method: routes are inserted the same way and
//! looked up with the same trailing-slash rules.

use std::collections::BTreeMap;

/// A wildcard-free, parameter or catch-all node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Root,
    Static,
    Param,
    CatchAll,
}

#[derive(Debug, Clone)]
struct Node<T: Copy> {
    path: String,
    kind: Kind,
    wild_child: bool,
    /// First byte of each static child's path.
    indices: Vec<u8>,
    children: Vec<Node<T>>,
    handle: Option<T>,
}

impl<T: Copy> Node<T> {
    fn empty(kind: Kind) -> Node<T> {
        Node {
            path: String::new(),
            kind,
            wild_child: false,
            indices: Vec::new(),
            children: Vec::new(),
            handle: None,
        }
    }

    fn child_with_index(&self, c: u8) -> Option<usize> {
        self.indices.iter().position(|&i| i == c)
    }
}

/// The value of a route's `:name` or `*name` parameters, in order.
pub(crate) type Params = Vec<(String, String)>;

/// The outcome of looking a path up in one method's tree.
struct Lookup<T> {
    handle: Option<T>,
    params: Params,
    /// A route exists for the path with/without a trailing slash.
    trailing_slash_redirect: bool,
}

/// One method's radix tree.
#[derive(Debug, Clone)]
struct Tree<T: Copy> {
    root: Node<T>,
}

impl<T: Copy> Tree<T> {
    fn new() -> Tree<T> {
        Tree {
            root: Node::empty(Kind::Root),
        }
    }

    /// Adds a route. Patterns are static text with `:name` segments and an
    /// optional trailing `/*name`.
    fn insert(&mut self, path: &str, handle: T) {
        if self.root.path.is_empty() && self.root.children.is_empty() && self.root.handle.is_none()
        {
            insert_child(&mut self.root, path, handle);
            self.root.kind = Kind::Root;
            return;
        }
        let mut node = &mut self.root;
        let mut path = path;
        loop {
            let common = node
                .path
                .bytes()
                .zip(path.bytes())
                .take_while(|(a, b)| a == b)
                .count();
            if common < node.path.len() {
                // Split: the node keeps the common prefix.
                let child = Node {
                    path: node.path[common..].to_string(),
                    kind: Kind::Static,
                    wild_child: node.wild_child,
                    indices: std::mem::take(&mut node.indices),
                    children: std::mem::take(&mut node.children),
                    handle: node.handle.take(),
                };
                node.indices = vec![node.path.as_bytes()[common]];
                node.children = vec![child];
                node.path.truncate(common);
                node.wild_child = false;
            }
            if common == path.len() {
                node.handle = Some(handle);
                return;
            }
            path = &path[common..];
            if node.wild_child {
                node = &mut node.children[0];
                // Same wildcard again: continue below it.
                let wildcard_len = node.path.len();
                if path.len() >= wildcard_len
                    && path.as_bytes()[..wildcard_len] == *node.path.as_bytes()
                    && (path.len() == wildcard_len || path.as_bytes()[wildcard_len] == b'/')
                {
                    continue;
                }
                // Conflicting wildcards do not occur in our route table.
                return;
            }
            let c = path.as_bytes()[0];
            if node.kind == Kind::Param && c == b'/' && node.children.len() == 1 {
                node = &mut node.children[0];
                continue;
            }
            if let Some(i) = node.child_with_index(c) {
                node = &mut node.children[i];
                continue;
            }
            if c != b':' && c != b'*' {
                node.indices.push(c);
                node.children.push(Node::empty(Kind::Static));
                let last = node.children.len() - 1;
                insert_child(&mut node.children[last], path, handle);
            } else {
                insert_child(node, path, handle);
            }
            return;
        }
    }

    fn lookup(&self, path: &str) -> Lookup<T> {
        let mut params = Params::new();
        let mut node = &self.root;
        let mut path = path;
        let none = |params, tsr| Lookup {
            handle: None,
            params,
            trailing_slash_redirect: tsr,
        };
        loop {
            let prefix = node.path.as_str();
            if path.len() > prefix.len() && path.starts_with(prefix) {
                path = &path[prefix.len()..];
                if !node.wild_child {
                    if let Some(i) = node.child_with_index(path.as_bytes()[0]) {
                        node = &node.children[i];
                        continue;
                    }
                    let tsr = path == "/" && node.handle.is_some();
                    return none(params, tsr);
                }
                node = &node.children[0];
                match node.kind {
                    Kind::Param => {
                        let end = path.find('/').unwrap_or(path.len());
                        params.push((node.path[1..].to_string(), path[..end].to_string()));
                        if end < path.len() {
                            if let Some(child) = node.children.first() {
                                path = &path[end..];
                                node = child;
                                continue;
                            }
                            let tsr = path.len() == end + 1;
                            return none(params, tsr);
                        }
                        if let Some(h) = node.handle {
                            return Lookup {
                                handle: Some(h),
                                params,
                                trailing_slash_redirect: false,
                            };
                        }
                        let tsr = node.children.len() == 1
                            && node.children[0].path == "/"
                            && node.children[0].handle.is_some();
                        return none(params, tsr);
                    }
                    _ => {
                        // Catch-all: the rest of the path, slash included.
                        let leaf = node.children.first().unwrap_or(node);
                        params.push((
                            leaf.path.get(2..).unwrap_or("").to_string(),
                            path.to_string(),
                        ));
                        return Lookup {
                            handle: leaf.handle,
                            params,
                            trailing_slash_redirect: false,
                        };
                    }
                }
            } else if path == prefix {
                if let Some(h) = node.handle {
                    return Lookup {
                        handle: Some(h),
                        params,
                        trailing_slash_redirect: false,
                    };
                }
                if path == "/" && node.wild_child && node.kind != Kind::Root {
                    return none(params, true);
                }
                if let Some(i) = node.child_with_index(b'/') {
                    let child = &node.children[i];
                    let tsr = (child.path.len() == 1 && child.handle.is_some())
                        || (child.kind == Kind::CatchAll
                            && child.children.first().is_some_and(|c| c.handle.is_some()));
                    return none(params, tsr);
                }
                return none(params, false);
            }
            let tsr = path == "/"
                || (prefix.len() == path.len() + 1
                    && prefix.as_bytes()[path.len()] == b'/'
                    && path == &prefix[..prefix.len() - 1]
                    && node.handle.is_some());
            return none(params, tsr);
        }
    }

    /// The route path matching `path` case-insensitively (parameter values
    /// keep their case), optionally fixing a trailing slash.
    fn find_case_insensitive(&self, path: &str) -> Option<String> {
        let mut out = String::new();
        find_ci(&self.root, path, &mut out).then_some(out)
    }
}

/// Inserts a path with its wildcards below `node`, which is empty.
fn insert_child<T: Copy>(node: &mut Node<T>, path: &str, handle: T) {
    let mut node = node;
    let mut path = path;
    loop {
        let Some(start) = path.find([':', '*']) else {
            node.path = path.to_string();
            node.handle = Some(handle);
            return;
        };
        let end = path[start + 1..]
            .find('/')
            .map_or(path.len(), |e| start + 1 + e);
        let wildcard = &path[start..end];
        if wildcard.starts_with(':') {
            if start > 0 {
                node.path = path[..start].to_string();
                path = &path[start..];
            }
            node.wild_child = true;
            let mut child = Node::empty(Kind::Param);
            child.path = wildcard.to_string();
            node.children = vec![child];
            node = &mut node.children[0];
            if wildcard.len() < path.len() {
                path = &path[wildcard.len()..];
                node.children = vec![Node::empty(Kind::Static)];
                node = &mut node.children[0];
                continue;
            }
            node.handle = Some(handle);
            return;
        }
        // Catch-all: the node ends before the slash; an empty catch-all
        // node leads to the node holding the parameter.
        let slash = start - 1;
        node.path = path[..slash].to_string();
        let mut holder = Node::empty(Kind::CatchAll);
        holder.wild_child = true;
        let mut leaf = Node::empty(Kind::CatchAll);
        leaf.path = path[slash..].to_string();
        leaf.handle = Some(handle);
        holder.children = vec![leaf];
        node.children = vec![holder];
        node.indices = vec![b'/'];
        return;
    }
}

fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.chars()
            .zip(b.chars())
            .all(|(x, y)| x.to_lowercase().eq(y.to_lowercase()))
}

fn find_ci<T: Copy>(node: &Node<T>, path: &str, out: &mut String) -> bool {
    let prefix = node.path.as_str();
    let start = out.len();
    if path.len() >= prefix.len()
        && path.is_char_boundary(prefix.len())
        && eq_ignore_case(&path[..prefix.len()], prefix)
    {
        out.push_str(prefix);
        let rest = &path[prefix.len()..];
        if !rest.is_empty() {
            if !node.wild_child {
                let first = rest.chars().next().unwrap_or('\0');
                for (i, &c) in node.indices.iter().enumerate() {
                    let c = char::from(c);
                    if c.to_lowercase().eq(first.to_lowercase())
                        && find_ci(&node.children[i], rest, out)
                    {
                        return true;
                    }
                }
                if rest == "/" && node.handle.is_some() {
                    return true;
                }
                out.truncate(start);
                return false;
            }
            let child = &node.children[0];
            match child.kind {
                Kind::Param => {
                    let end = rest.find('/').unwrap_or(rest.len());
                    out.push_str(&rest[..end]);
                    if end < rest.len() {
                        if let Some(grandchild) = child.children.first() {
                            if find_ci(grandchild, &rest[end..], out) {
                                return true;
                            }
                            out.truncate(start);
                            return false;
                        }
                        if rest.len() == end + 1 {
                            return true;
                        }
                        out.truncate(start);
                        return false;
                    }
                    if child.handle.is_some() {
                        return true;
                    }
                    if child.children.len() == 1
                        && child.children[0].path == "/"
                        && child.children[0].handle.is_some()
                    {
                        out.push('/');
                        return true;
                    }
                    out.truncate(start);
                    return false;
                }
                _ => {
                    out.push_str(rest);
                    return true;
                }
            }
        }
        if node.handle.is_some() {
            return true;
        }
        if let Some(i) = node.child_with_index(b'/') {
            let child = &node.children[i];
            if (child.path.len() == 1 && child.handle.is_some())
                || (child.kind == Kind::CatchAll
                    && child.children.first().is_some_and(|c| c.handle.is_some()))
            {
                out.push('/');
                return true;
            }
        }
        out.truncate(start);
        return false;
    }
    if path == "/" {
        return true;
    }
    if path.len() + 1 == prefix.len()
        && prefix.as_bytes()[path.len()] == b'/'
        && eq_ignore_case(path, &prefix[..path.len()])
        && node.handle.is_some()
    {
        out.push_str(prefix);
        return true;
    }
    false
}

/// What the router decided for a request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decision<T> {
    /// Call the handler.
    Handle(T, Params),
    /// Redirect (301 or 307) to this path.
    Redirect(u16, String),
    /// 405 with this `Allow` header.
    MethodNotAllowed(String),
    /// Automatic `OPTIONS`: 200 with this `Allow` header.
    Options(String),
    /// 404.
    NotFound,
}

/// One httprouter: a tree per method.
#[derive(Debug, Clone)]
pub(crate) struct Router<T: Copy> {
    trees: BTreeMap<String, Tree<T>>,
}

impl<T: Copy> Router<T> {
    pub(crate) fn new() -> Router<T> {
        Router {
            trees: BTreeMap::new(),
        }
    }

    pub(crate) fn add(&mut self, method: &str, path: &str, handle: T) {
        self.trees
            .entry(method.to_string())
            .or_insert_with(Tree::new)
            .insert(path, handle);
    }

    /// Routes `path` (already percent-decoded) for `method`.
    pub(crate) fn route(&self, method: &str, path: &str) -> Decision<T> {
        if let Some(tree) = self.trees.get(method) {
            let found = tree.lookup(path);
            if let Some(h) = found.handle {
                return Decision::Handle(h, found.params);
            }
            if method != "CONNECT" && path != "/" {
                let code = if method == "GET" { 301 } else { 307 };
                if found.trailing_slash_redirect {
                    let fixed = match path.strip_suffix('/') {
                        Some(stripped) if path.len() > 1 => stripped.to_string(),
                        _ => format!("{path}/"),
                    };
                    return Decision::Redirect(code, fixed);
                }
                if let Some(fixed) = tree.find_case_insensitive(&clean_path(path)) {
                    return Decision::Redirect(code, fixed);
                }
            }
        }
        let allowed = self.allowed(path, method);
        if method == "OPTIONS" {
            if !allowed.is_empty() {
                return Decision::Options(allowed);
            }
        } else if !allowed.is_empty() {
            return Decision::MethodNotAllowed(allowed);
        }
        Decision::NotFound
    }

    fn allowed(&self, path: &str, method: &str) -> String {
        let mut allowed: Vec<&str> = self
            .trees
            .iter()
            .filter(|(m, _)| m.as_str() != method && m.as_str() != "OPTIONS")
            .filter(|(_, tree)| tree.lookup(path).handle.is_some())
            .map(|(m, _)| m.as_str())
            .collect();
        if allowed.is_empty() {
            return String::new();
        }
        allowed.push("OPTIONS");
        allowed.sort_unstable();
        allowed.join(", ")
    }
}

/// Go's `path.Join` for the telemetry path: joined and cleaned.
pub(crate) fn join_path(prefix: &str, path: &str) -> String {
    let joined = format!("{prefix}/{path}");
    let cleaned = clean_path(&joined);
    if cleaned.len() > 1 {
        cleaned.trim_end_matches('/').to_string()
    } else {
        cleaned
    }
}

/// Whether [`clean_path`] would leave `p` as it is: rooted, without empty
/// (but a trailing one), `.` or `..` segments.
pub(crate) fn is_clean(p: &str) -> bool {
    let Some(rest) = p.strip_prefix('/') else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    let mut segments = rest.split('/').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        match segment {
            "." | ".." => return false,
            "" if !last => return false,
            _ => {}
        }
    }
    true
}

/// Go's path cleaning (`path.Clean` keeping a trailing slash): removes
/// `//`, `/./` and resolves `/../`.
pub(crate) fn clean_path(p: &str) -> String {
    if is_clean(p) {
        return p.to_string();
    }
    if p.is_empty() {
        return "/".to_string();
    }
    let rooted = if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for segment in rooted.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let mut cleaned = format!("/{}", parts.join("/"));
    if rooted.ends_with('/') && cleaned != "/" {
        cleaned.push('/');
    }
    cleaned
}

/// Decodes `%XX` escapes as Go's URL parser does for a path; a malformed
/// escape makes the request a 400.
pub(crate) fn percent_decode(raw: &str) -> Result<std::borrow::Cow<'_, str>, ()> {
    let bytes = raw.as_bytes();
    if !bytes.contains(&b'%') {
        return Ok(std::borrow::Cow::Borrowed(raw));
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |b: u8| char::from(b).to_digit(16);
            match (
                bytes.get(i + 1).and_then(|&b| hex(b)),
                bytes.get(i + 2).and_then(|&b| hex(b)),
            ) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                }
                _ => return Err(()),
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map(std::borrow::Cow::Owned)
        .map_err(|_| ())
}

/// Escapes a path for a `Location` header as Go's `url.URL.EscapedPath`
/// does: unreserved characters and `$&+,/:;=@` stay, the rest is `%XX`.
pub(crate) fn escape_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&b);
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push_router() -> Router<u8> {
        let mut r = Router::new();
        for (m, p, h) in [
            ("GET", "/-/healthy", 1),
            ("GET", "/metrics", 2),
            ("PUT", "/metrics/job/:job/*labels", 3),
            ("PUT", "/metrics/job/:job", 4),
            ("PUT", "/metrics/job@base64/:job/*labels", 5),
            ("PUT", "/metrics/job@base64/:job", 6),
            ("GET", "/static/*filepath", 7),
            ("GET", "/status", 8),
            ("GET", "/", 9),
        ] {
            r.add(m, p, h);
        }
        r
    }

    #[test]
    fn matches_params_and_catch_alls() {
        let r = push_router();
        assert_eq!(
            r.route("PUT", "/metrics/job/a/b/c"),
            Decision::Handle(
                3,
                vec![("job".into(), "a".into()), ("labels".into(), "/b/c".into())]
            )
        );
        assert_eq!(
            r.route("PUT", "/metrics/job/a"),
            Decision::Handle(4, vec![("job".into(), "a".into())])
        );
        assert_eq!(
            r.route("GET", "/static/x.css"),
            Decision::Handle(7, vec![("filepath".into(), "/x.css".into())])
        );
    }

    #[test]
    fn redirects_like_httprouter() {
        let r = push_router();
        assert_eq!(
            r.route("PUT", "/metrics/job/"),
            Decision::Redirect(307, "/metrics/job".into())
        );
        assert_eq!(r.route("PUT", "/metrics/job@base64/"), Decision::NotFound);
        assert_eq!(
            r.route("GET", "/metrics/"),
            Decision::Redirect(301, "/metrics".into())
        );
        assert_eq!(
            r.route("GET", "/Metrics"),
            Decision::Redirect(301, "/metrics".into())
        );
        assert_eq!(
            r.route("PUT", "/Metrics/job/up"),
            Decision::Redirect(307, "/metrics/job/up".into())
        );
        assert_eq!(
            r.route("GET", "/static"),
            Decision::Redirect(301, "/static/".into())
        );
        assert_eq!(
            r.route("GET", "/metrics/job/a"),
            Decision::MethodNotAllowed("OPTIONS, PUT".into())
        );
        assert_eq!(
            r.route("OPTIONS", "/metrics"),
            Decision::Options("GET, OPTIONS".into())
        );
    }

    #[test]
    fn cleans_paths_like_go() {
        assert_eq!(clean_path("/metrics/job//a"), "/metrics/job/a");
        assert_eq!(clean_path("/a/./b/../c/"), "/a/c/");
        assert_eq!(clean_path("//"), "/");
        assert_eq!(clean_path("/.."), "/");
        for clean in ["/", "/metrics", "/metrics/job/a/", "/a.b/c..d"] {
            assert!(is_clean(clean), "{clean}");
            assert_eq!(clean_path(clean), clean);
        }
        for unclean in ["", "a", "//", "/a//b", "/a/./b", "/a/..", "/a/."] {
            assert!(!is_clean(unclean), "{unclean}");
        }
    }

    #[test]
    fn decodes_and_escapes() {
        assert_eq!(percent_decode("/a%2Fb%20c").unwrap(), "/a/b c");
        assert!(percent_decode("/%zz").is_err());
        assert_eq!(escape_path("/a b/ü"), "/a%20b/%C3%BC");
    }
}
