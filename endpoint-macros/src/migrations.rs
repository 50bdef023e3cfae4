//! `migrations!("dir")`: embeds SQL migration files in the binary at compile time.
//!
//! Layout, relative to the calling crate's `Cargo.toml`: `dir/*.sql` are used for every
//! database, `dir/sqlite/*.sql` and `dir/postgres/*.sql` for one; the two are merged by version
//! (a version may not appear in both). Files are named `<version>_<description>.sql`
//! (`0001_create_tables.sql`) and applied in version order.

use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use quote::quote;
use syn::LitStr;

/// `"dir"`, then optionally `, crate = path` (the runtime's path when the dependency is
/// renamed).
struct Input {
    lit: LitStr,
    krate: syn::Path,
}

impl syn::parse::Parse for Input {
    fn parse(input: syn::parse::ParseStream<'_>) -> syn::Result<Self> {
        let lit: LitStr = input.parse()?;
        let mut krate = syn::parse_quote!(::endpoint_runtime);
        if input.parse::<Option<syn::Token![,]>>()?.is_some() && !input.is_empty() {
            let key: syn::Ident = input.call(syn::ext::IdentExt::parse_any)?;
            if key != "crate" {
                return Err(syn::Error::new(
                    key.span(),
                    "expected `crate = path` after the directory",
                ));
            }
            input.parse::<syn::Token![=]>()?;
            krate = input.parse()?;
            input.parse::<Option<syn::Token![,]>>()?;
        }
        Ok(Input { lit, krate })
    }
}

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let Input { lit, krate } = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.into_compile_error(),
    };
    match read(&lit, &krate) {
        Ok(tokens) => tokens,
        Err(message) => syn::Error::new_spanned(&lit, message).into_compile_error(),
    }
}

fn read(lit: &LitStr, krate: &syn::Path) -> Result<TokenStream, String> {
    let manifest = std::env::var("CARGO_MANIFEST_DIR")
        .map_err(|_| "CARGO_MANIFEST_DIR is not set: build with cargo".to_string())?;
    let dir = Path::new(&manifest).join(lit.value());
    if !dir.is_dir() {
        // The path as written: the absolute one depends on where the crate is built (a
        // trybuild copy, another target directory) and the user knows their crate's folder.
        return Err(format!(
            "migrations directory `{}` not found (paths are relative to the crate's Cargo.toml)",
            lit.value()
        ));
    }
    let common = files(&dir)?;
    let merge =
        |specific: Vec<(i64, String, PathBuf)>| -> Result<Vec<(i64, String, PathBuf)>, String> {
            let mut all = common.clone();
            for entry in specific {
                if let Some((_, _, other)) = all.iter().find(|(v, _, _)| *v == entry.0) {
                    return Err(format!(
                        "migrations `{}` and `{}` have the same version {}",
                        other.display(),
                        entry.2.display(),
                        entry.0
                    ));
                }
                all.push(entry);
            }
            all.sort_by_key(|(version, _, _)| *version);
            Ok(all)
        };
    let sqlite = merge(files(&dir.join("sqlite"))?)?;
    let postgres = merge(files(&dir.join("postgres"))?)?;
    if sqlite.is_empty() && postgres.is_empty() {
        return Err(format!(
            "no `<version>_<description>.sql` files in `{}`",
            dir.display()
        ));
    }
    let list = |entries: &[(i64, String, PathBuf)]| {
        let items = entries.iter().map(|(version, description, path)| {
            let path = path.to_string_lossy().into_owned();
            quote!((#version, #description, ::core::include_str!(#path)))
        });
        quote!(&[#(#items),*])
    };
    let sqlite = list(&sqlite);
    let postgres = list(&postgres);
    Ok(quote!(#krate::__private::Migrations::__new(#sqlite, #postgres)))
}

fn files(dir: &Path) -> Result<Vec<(i64, String, PathBuf)>, String> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut out: Vec<(i64, String, PathBuf)> = Vec::new();
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read `{}`: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("sql") {
            continue;
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let Some((version, description)) = stem.split_once('_') else {
            return Err(format!(
                "`{}`: migration files are named `<version>_<description>.sql`",
                path.display()
            ));
        };
        let version: i64 = version.parse().map_err(|_| {
            format!(
                "`{}`: the version `{version}` is not a number",
                path.display()
            )
        })?;
        if let Some((_, _, other)) = out.iter().find(|(v, _, _)| *v == version) {
            return Err(format!(
                "migrations `{}` and `{}` have the same version {version}",
                other.display(),
                path.display()
            ));
        }
        out.push((version, description.replace('_', " "), path));
    }
    out.sort_by_key(|(version, _, _)| *version);
    Ok(out)
}
