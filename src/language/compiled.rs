//! The spec's templates, each parsed once per process: specs compiled together (one per
//! environment, or copies of one example) repeat the same strings, and handlebars' parser costs
//! more than rendering. Each entry also holds how deep `{{#each}}` nests in it, which the renderer
//! prices before every rendering.
//!
//! The cache is bounded in bytes of template text ([`CACHE_BYTES`]; a parsed template takes many
//! times its text), so many distinct large templates do not pile up; one that is evicted is
//! parsed again when next needed.

use handlebars::Template;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

/// The most template text the cache holds; when a new entry would pass it, the cache starts over.
pub const CACHE_BYTES: usize = 1024 * 1024;

/// A parsed template and how deep `{{#each}}` blocks nest in it.
#[derive(Debug)]
pub struct Compiled {
    pub template: Template,
    pub loop_depth: u32,
}

#[derive(Default)]
struct Cache {
    entries: HashMap<String, Arc<Compiled>>,
    bytes: usize,
}

static CACHE: LazyLock<Mutex<Cache>> = LazyLock::new(Mutex::default);

/// `source` parsed by `parse`, or as parsed before. A failed parse is not kept: its error is
/// reported where the spec names the string. Only the renderer's `parse` (which refuses what
/// berth's limits refuse) may fill the cache, hence not public.
pub(crate) fn compiled<E>(
    source: &str,
    parse: impl FnOnce(&str) -> Result<Compiled, E>,
) -> Result<Arc<Compiled>, E> {
    if let Some(found) = lock().entries.get(source) {
        return Ok(Arc::clone(found));
    }
    // Parsed outside the lock, so that other workers keep rendering meanwhile.
    let fresh = Arc::new(parse(source)?);
    if source.len() <= CACHE_BYTES {
        let mut cache = lock();
        if cache.bytes + source.len() > CACHE_BYTES {
            *cache = Cache::default();
        }
        cache.bytes += source.len();
        cache.entries.insert(source.to_string(), Arc::clone(&fresh));
    }
    Ok(fresh)
}

fn lock() -> std::sync::MutexGuard<'static, Cache> {
    // A worker that panicked left the map whole: every insert is one call.
    CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::{CACHE_BYTES, Compiled, compiled};
    use handlebars::Template;
    use std::sync::Arc;

    fn parse(source: &str) -> Result<Compiled, ()> {
        Ok(Compiled {
            template: Template::compile(source).map_err(|_| ())?,
            loop_depth: 0,
        })
    }

    #[test]
    fn a_template_is_parsed_once() {
        let first = compiled("{{name}}-cache-test", parse).unwrap();
        let again = compiled("{{name}}-cache-test", |_| -> Result<Compiled, ()> {
            panic!("parsed twice")
        })
        .unwrap();
        assert!(Arc::ptr_eq(&first, &again));
    }

    #[test]
    fn a_failed_parse_is_not_kept() {
        assert!(compiled("{{#each x}}cache-test", parse).is_err());
        let mut parsed = false;
        let _ = compiled("{{#each x}}cache-test", |s| {
            parsed = true;
            parse(s)
        });
        assert!(parsed);
    }

    #[test]
    fn a_template_larger_than_the_cache_is_parsed_each_time() {
        let big = format!("{{{{name}}}}{}", "x".repeat(CACHE_BYTES));
        let first = compiled(&big, parse).unwrap();
        let again = compiled(&big, parse).unwrap();
        assert!(!Arc::ptr_eq(&first, &again));
    }
}
