//! The route-template grammar, checked at compile time.
//!
//! A route starts with `/`; each segment between slashes is literal text, a whole-segment
//! parameter `{name}`, or, as the last segment only, a catch-all `{*name}` or a parameter
//! with a literal suffix `{name}.json` (Astro's `[id].json.ts`, which the runtime matches
//! itself: axum 0.8's matchit has no suffixes). This is the subset of axum 0.8 / matchit 0.8
//! syntax that never panics at start-up, plus that suffix: no empty, `.` or `..` segments, no
//! text before a parameter, parameter names that are unique Rust identifiers. Pure string
//! code, so it is unit-tested without a compiler.

/// One segment of a checked route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// Literal text, matched exactly.
    Literal(String),
    /// `{name}`: one whole segment bound to the argument `name`.
    Param(String),
    /// `{*name}`: the rest of the path, bound to the argument `name`.
    CatchAll(String),
    /// `{name}suffix` (last segment only): the segment without its literal suffix, such as
    /// `{id}.json`, bound to the argument `name`.
    Suffixed(String, String),
}

/// A route that satisfies the grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    /// The template as written, such as `/users/{id}`.
    pub(crate) template: String,
    pub(crate) segments: Vec<Segment>,
}

impl Route {
    /// The literal suffix of the last segment's parameter (`.json` of `/{id}.json`), if any.
    pub(crate) fn suffix(&self) -> Option<&str> {
        match self.segments.last() {
            Some(Segment::Suffixed(_, suffix)) => Some(suffix),
            _ => None,
        }
    }

    /// The parameter names in order of appearance, catch-all included.
    pub(crate) fn params(&self) -> impl Iterator<Item = (&str, bool)> {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::Param(name) | Segment::Suffixed(name, _) => Some((name.as_str(), false)),
            Segment::CatchAll(name) => Some((name.as_str(), true)),
            Segment::Literal(_) => None,
        })
    }
}

/// Characters that never belong in a route template, with the reason shown to the user.
fn forbidden(c: char) -> Option<&'static str> {
    match c {
        '?' => Some("query strings are not part of a route; read them with `Query<T>`"),
        '#' => Some("fragments are never sent to the server"),
        c if c.is_whitespace() => Some("whitespace is not allowed; percent-encode it as `%20`"),
        c if c.is_control() => Some("control characters are not allowed"),
        _ => None,
    }
}

/// Checks `route` and returns every mistake it contains, not only the first.
pub(crate) fn parse(route: &str) -> Result<Route, Vec<String>> {
    let mut errors = Vec::new();
    if route.is_empty() {
        return Err(vec![
            "endpoint routes must not be empty: use `\"/\"` for the root of the group".into(),
        ]);
    }
    let Some(rest) = route.strip_prefix('/') else {
        return Err(vec![format!(
            "endpoint routes must start with `/`: write `\"/{route}\"`"
        )]);
    };
    for c in route.chars() {
        if let Some(why) = forbidden(c) {
            errors.push(format!(
                "invalid character `{}` in route: {why}",
                c.escape_debug()
            ));
        }
    }
    let mut segments = Vec::new();
    if !rest.is_empty() {
        let raw: Vec<&str> = rest.split('/').collect();
        let last = raw.len() - 1;
        for (index, text) in raw.iter().enumerate() {
            match parse_segment(text, index == last, route) {
                Ok(segment) => segments.push(segment),
                Err(message) => errors.push(message),
            }
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for segment in &segments {
        if let Segment::Param(name) | Segment::CatchAll(name) | Segment::Suffixed(name, _) = segment
        {
            if seen.contains(&name.as_str()) {
                errors.push(format!(
                    "route parameter `{name}` appears more than once; parameter names must be unique"
                ));
            } else {
                seen.push(name);
            }
        }
    }
    if errors.is_empty() {
        Ok(Route {
            template: route.to_string(),
            segments,
        })
    } else {
        Err(errors)
    }
}

fn parse_segment(text: &str, is_last: bool, route: &str) -> Result<Segment, String> {
    if text.is_empty() {
        return Err(if is_last {
            format!(
                "endpoint routes must not end with `/`: write `\"{}\"`",
                route.trim_end_matches('/')
            )
        } else {
            "empty segment `//` in route".to_string()
        });
    }
    if text == "." || text == ".." {
        return Err(format!("`{text}` segments are not allowed in a route"));
    }
    if let Some(name) = text.strip_prefix(':') {
        return Err(format!(
            "`{text}` is the old parameter syntax: write `{{{name}}}` (axum 0.8 syntax)"
        ));
    }
    if let Some(name) = text.strip_prefix('*') {
        return Err(format!(
            "`{text}` is the old catch-all syntax: write `{{*{name}}}` (axum 0.8 syntax)"
        ));
    }
    if !text.contains(['{', '}']) {
        return Ok(Segment::Literal(text.to_string()));
    }
    // `{inner}` and what follows the closing brace in the segment.
    let parts = text
        .strip_prefix('{')
        .and_then(|t| t.split_once('}'))
        .filter(|(inner, suffix)| !inner.contains('{') && !suffix.contains(['{', '}']));
    let Some((inner, suffix)) = parts else {
        return Err(format!(
            "`{text}`: a route parameter must start its segment, such as `{{id}}` or \
             `{{id}}.json`; text before a parameter, or two parameters in one segment, \
             cannot be matched"
        ));
    };
    let (name, catch_all) = match inner.strip_prefix('*') {
        Some(name) => (name, true),
        None => (inner, false),
    };
    check_ident(name, text)?;
    if catch_all && !suffix.is_empty() {
        return Err(format!(
            "`{text}`: a catch-all takes the rest of the path and cannot have a suffix"
        ));
    }
    if catch_all && !is_last {
        return Err(format!(
            "catch-all `{text}` must be the last segment of the route"
        ));
    }
    if !suffix.is_empty() && !is_last {
        return Err(format!(
            "`{text}`: a parameter with a suffix must be the last segment of the route \
             (like Astro's `[id].json.ts`); elsewhere a parameter is a whole segment"
        ));
    }
    Ok(if catch_all {
        Segment::CatchAll(name.to_string())
    } else if suffix.is_empty() {
        Segment::Param(name.to_string())
    } else {
        Segment::Suffixed(name.to_string(), suffix.to_string())
    })
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield", "_",
];

fn check_ident(name: &str, text: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = match chars.next() {
        Some(first) => {
            (first == '_' || first.is_ascii_alphabetic())
                && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
        }
        None => {
            return Err(format!(
                "`{text}`: route parameters need a name, such as `{{id}}`"
            ));
        }
    };
    if !valid {
        return Err(format!(
            "`{text}`: parameter names must be Rust identifiers (letters, digits, `_`), \
             since each binds to the function argument of the same name"
        ));
    }
    if KEYWORDS.contains(&name) {
        return Err(format!(
            "`{text}`: `{name}` is a Rust keyword and cannot name a function argument"
        ));
    }
    Ok(())
}

/// Checks a group id: one literal path segment, or `"/"` for the site root.
pub(crate) fn check_id(id: &str) -> Result<(), String> {
    if id == "/" {
        return Ok(());
    }
    if id.is_empty() {
        return Err(
            "endpoint ids must not be empty: use `id = \"/\"` to mount at the site root".into(),
        );
    }
    if let Some(c) = id
        .chars()
        .find(|&c| forbidden(c).is_some() || matches!(c, '{' | '}'))
    {
        return Err(format!(
            "invalid character `{}` in id: an id is one literal path segment such as `\"greet\"`",
            c.escape_debug()
        ));
    }
    if id.contains('/') {
        let trimmed = id.trim_matches('/');
        return Err(if !trimmed.is_empty() && !trimmed.contains('/') {
            format!("an id is a path segment without slashes: write `id = \"{trimmed}\"`")
        } else {
            "an id is a single path segment: nest deeper paths in `route`".into()
        });
    }
    if id == "." || id == ".." {
        return Err(format!("`{id}` is not a valid id"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(route: &str) -> Vec<Segment> {
        parse(route)
            .unwrap_or_else(|e| panic!("{route}: {e:?}"))
            .segments
    }

    fn err(route: &str) -> Vec<String> {
        parse(route).expect_err(route)
    }

    #[test]
    fn accepts_the_grammar() {
        assert_eq!(ok("/"), vec![]);
        assert_eq!(ok("/intro"), vec![Segment::Literal("intro".into())]);
        assert_eq!(
            ok("/users/{id}/posts/{post_id}"),
            vec![
                Segment::Literal("users".into()),
                Segment::Param("id".into()),
                Segment::Literal("posts".into()),
                Segment::Param("post_id".into()),
            ]
        );
        assert_eq!(
            ok("/files/{*path}"),
            vec![
                Segment::Literal("files".into()),
                Segment::CatchAll("path".into())
            ]
        );
        assert_eq!(
            ok("/api/{id}.json"),
            vec![
                Segment::Literal("api".into()),
                Segment::Suffixed("id".into(), ".json".into())
            ]
        );
        assert_eq!(parse("/api/{id}.json").unwrap().suffix(), Some(".json"));
        assert_eq!(parse("/api/{id}").unwrap().suffix(), None);
        assert_eq!(
            ok("/builtwith.json"),
            vec![Segment::Literal("builtwith.json".into())]
        );
        assert_eq!(
            ok("/a-b_c~d%20"),
            vec![Segment::Literal("a-b_c~d%20".into())]
        );
    }

    #[test]
    fn old_syntax_shows_the_new_form() {
        assert_eq!(
            err("/users/:id")[0],
            "`:id` is the old parameter syntax: write `{id}` (axum 0.8 syntax)"
        );
        assert_eq!(
            err("/files/*rest")[0],
            "`*rest` is the old catch-all syntax: write `{*rest}` (axum 0.8 syntax)"
        );
    }

    #[test]
    fn rejects_malformed_routes() {
        assert!(err("")[0].contains("must not be empty"));
        assert!(err("users")[0].contains("write `\"/users\"`"));
        assert!(err("/users/")[0].contains("must not end with `/`: write `\"/users\"`"));
        assert!(err("/a//b")[0].contains("empty segment"));
        assert!(err("/a/./b")[0].contains("`.` segments"));
        assert!(err("/a/..")[0].contains("`..` segments"));
        assert!(err("/post-{slug}")[0].contains("must start its segment"));
        assert!(err("/{a}-{b}")[0].contains("must start its segment"));
        assert!(err("/{id")[0].contains("must start its segment"));
        assert!(err("/{id}}")[0].contains("must start its segment"));
        assert!(err("/{id}.json/x")[0].contains("suffix must be the last segment"));
        assert!(err("/{*rest}.json")[0].contains("cannot have a suffix"));
        assert!(err("/{}")[0].contains("need a name"));
        assert!(err("/{1x}")[0].contains("Rust identifiers"));
        assert!(err("/{type}")[0].contains("keyword"));
        assert!(err("/{*rest}/x")[0].contains("must be the last segment"));
        assert!(err("/{id}/{id}")[0].contains("more than once"));
        assert!(err("/search?q=1")[0].contains("Query<T>"));
        assert!(err("/a b")[0].contains("whitespace"));
    }

    #[test]
    fn reports_every_mistake() {
        let errors = err("/:a/{b}.x/{c}/{c}");
        assert_eq!(errors.len(), 3, "{errors:?}");
    }

    #[test]
    fn params_in_order() {
        let route = parse("/{a}/x/{*b}").unwrap();
        assert_eq!(route.template, "/{a}/x/{*b}");
        assert_eq!(
            route.params().collect::<Vec<_>>(),
            vec![("a", false), ("b", true)]
        );
        let route = parse("/{a}/{b}.json").unwrap();
        assert_eq!(
            route.params().collect::<Vec<_>>(),
            vec![("a", false), ("b", false)]
        );
    }

    #[test]
    fn ids() {
        assert!(check_id("greet").is_ok());
        assert!(check_id("my-endpoint_1").is_ok());
        assert!(check_id("/").is_ok());
        assert!(check_id("").unwrap_err().contains("id = \"/\""));
        assert!(
            check_id("/greet")
                .unwrap_err()
                .contains("write `id = \"greet\"`")
        );
        assert!(check_id("a/b").unwrap_err().contains("single path segment"));
        assert!(check_id("{id}").unwrap_err().contains("invalid character"));
    }
}
