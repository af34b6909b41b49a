//! Handlebars rendering of the spec's own `{{...}}` strings: strict mode (an undefined variable is
//! an error), HTML escaping off, and the `join LIST SEPARATOR` helper.
//!
//! Every string is rendered exactly once, so a parameter value that contains `{{` stays data.
//!
//! Limits keep a hostile spec from crashing berth or exhausting memory: no partials or
//! decorators (they can recurse), at most [`NESTING_LIMIT`] nested blocks or subexpressions,
//! at most [`RENDER_LIMIT`] bytes from one rendering and [`COMPILE_RENDER_LIMIT`] from all the
//! renderings of one compile, and [`COMPILE_LOOP_LIMIT`] steps of `{{#each}}` for all of them.

use crate::compiled::{Compiled, compiled};
use berth_diagnostic::Diagnostic;
use berth_diagnostic::errors;
use berth_diagnostic::source::Span;
use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason, Renderable, TemplateErrorReason, WriteOutput,
};
use serde_json::{Map, Value, json};

/// A string from `[container]` or `[init]` that may mention `self` and `peers`.
#[derive(Clone, Debug)]
pub struct Template {
    pub source: String,
    pub span: Option<Span>,
}

impl Template {
    /// Whether an action of the template reads `self`, the member it is rendered for (text
    /// outside actions, like "self-signed", does not count).
    pub fn names_self(&self) -> bool {
        reads(&self.source, "self")
    }
}

/// The actions of a template: the text of each `{{...}}`.
pub fn actions(source: &str) -> impl Iterator<Item = &str> {
    source
        .split("{{")
        .skip(1)
        .map(|rest| rest.split("}}").next().unwrap_or(rest))
}

/// Whether an action of `source` reads the context's `word` (`self`, `name`, `port`), not a
/// field of that name of something else (`params.name`) nor a longer name (`myself`).
pub fn reads(source: &str, word: &str) -> bool {
    let identifier = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    actions(source).any(|action| {
        action.match_indices(word).any(|(at, _)| {
            let before = &action[..at];
            let after = action[at + word.len()..].chars().next();
            let whole = !before.ends_with(|c: char| identifier(c) || c == '.')
                || before.ends_with("@root.");
            whole && !after.is_some_and(identifier)
        })
    })
}

/// What an action of `source` reads of `self`, whatever the values: `[name, ordinal]`, the name
/// read as `self.name` or within `self.host`, the ordinal as `self.ordinal`; `self` read whole,
/// or a field this does not know, counts as both, and `self.joining` and `self.published` as
/// neither.
pub fn self_reads(source: &str) -> [bool; 2] {
    actions(source).fold([false; 2], |found, action| {
        let [name, ordinal] = action_self_reads(action);
        [found[0] || name, found[1] || ordinal]
    })
}

/// Whether `source` reads the member's name or ordinal in a way text substitution cannot compute
/// for some values: as an argument or a condition (`{{add self.ordinal 1}}`, `{{#if (eq
/// self.ordinal "0")}}`), not written alone (`{{self.name}}`).
pub fn self_computed(source: &str) -> bool {
    actions(source).any(|action| {
        let alone = action.trim_matches(|c: char| c.is_whitespace() || c == '~');
        !matches!(alone, "self.name" | "self.host" | "self.ordinal")
            && action_self_reads(action) != [false, false]
    })
}

/// [`self_reads`] of one action's text.
fn action_self_reads(action: &str) -> [bool; 2] {
    let identifier = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    let mut found = [false; 2];
    for (at, _) in action.match_indices("self") {
        let (before, after) = (&action[..at], &action[at + "self".len()..]);
        let whole =
            !before.ends_with(|c: char| identifier(c) || c == '.') || before.ends_with("@root.");
        if !whole || after.starts_with(identifier) {
            continue;
        }
        let field = after.strip_prefix('.').map_or("", |rest| {
            let end = rest.find(|c: char| !identifier(c)).unwrap_or(rest.len());
            &rest[..end]
        });
        match field {
            "name" | "host" => found[0] = true,
            "ordinal" => found[1] = true,
            "joining" | "published" => {}
            _ => found = [true, true],
        }
    }
    found
}

/// How a backend names one member: `ordinal`, `name` (`<service>-<ordinal>`) and `host`, the
/// stable DNS name by which peers and clients reach it; `published`, by public port name, the
/// `HOST:PORT` at which clients outside the platform reach it, where the backend knows one.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Member {
    pub ordinal: String,
    pub name: String,
    pub host: String,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub published: std::collections::BTreeMap<String, String>,
}

/// What `self` and `peers` mean in one rendering: `me` is `None` in `[init]`, which is not a member.
/// The template context is built once per identity, on first use, by the [`Templates`] that
/// first renders with it: an identity serves the renderings of one service.
pub struct Identity<'a> {
    pub me: Option<&'a Member>,
    pub peers: &'a [Member],
    pub(crate) context: std::cell::OnceCell<handlebars::Context>,
}

impl<'a> Identity<'a> {
    pub fn new(me: Option<&'a Member>, peers: &'a [Member]) -> Self {
        Identity {
            me,
            peers,
            context: std::cell::OnceCell::new(),
        }
    }
}

/// The deepest nesting of blocks or subexpressions a spec's template may have.
pub const NESTING_LIMIT: usize = 32;
/// The most text one rendering may make.
pub const RENDER_LIMIT: usize = 8 * 1024 * 1024;
/// The most `{{#each}}` steps all renderings of one compile may take together: a loop that writes
/// nothing costs time all the same.
pub const COMPILE_LOOP_LIMIT: u64 = 20_000_000;
/// The most text all renderings of one compile may make together (every member of every
/// backend): output that grows with the square or cube of `replicas` stops here.
pub const COMPILE_RENDER_LIMIT: u64 = 256 * 1024 * 1024;

/// Which members a rendering has join a running cluster (`self.joining`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Joining {
    /// None: the compiled files are a founded cluster's.
    #[default]
    None,
    /// The member of this ordinal, where each member has its own definition.
    Member(String),
    /// Every member, where one definition serves them all and only the joining member is made
    /// from it (a StatefulSet whose other pods keep their revision).
    Every,
}

/// What a `[membership]` command's words are rendered in ([`Templates::membership_context`]).
pub struct MembershipContext {
    context: Context,
    members: usize,
}

impl MembershipContext {
    /// The context as templates see it.
    pub fn data(&self) -> &Value {
        self.context.data()
    }
}

/// The handlebars registry and the context every template sees: `name`, `params`, `port`.
#[derive(Clone, Debug)]
pub struct Templates {
    handlebars: Handlebars<'static>,
    base: Map<String, Value>,
    /// `base` as handlebars takes it, built once for every structural rendering.
    structural: Context,
    /// Bytes rendered so far by this compile, shared by its clones.
    rendered: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Loop steps priced so far by this compile, shared by its clones.
    loops: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The longest list (or table) among the parameters, which `{{#each}}` may walk.
    widest: usize,
    /// Which members join a running cluster in this rendering (`berth plan`): their
    /// `self.joining` is true.
    joining: Joining,
}

/// A failed rendering: handlebars' reason and, when known, the line and column in the template.
#[derive(Debug)]
pub struct TemplateFailure {
    pub reason: String,
    pub help: String,
    pub position: Option<(usize, usize)>,
    /// The undefined variable's path, for a "did you mean".
    pub missing: Option<String>,
    /// Whether a size limit stopped the rendering (the message then names the member).
    pub limit: bool,
}

impl Templates {
    pub fn new(name: &str, params: Map<String, Value>, ports: Map<String, Value>) -> Self {
        let mut handlebars = Handlebars::new();
        handlebars.set_strict_mode(true);
        handlebars.register_escape_fn(handlebars::no_escape);
        handlebars.register_helper("join", Box::new(text_helper(join)));
        handlebars.register_helper("add", Box::new(text_helper(add)));
        let widest = widest(&Value::Object(params.clone()));
        let mut base = Map::new();
        base.insert("name".into(), Value::String(name.to_string()));
        base.insert("params".into(), Value::Object(params));
        base.insert("port".into(), Value::Object(ports));
        let structural = Context::from(Value::Object(base.clone()));
        Templates {
            handlebars,
            base,
            structural,
            rendered: Default::default(),
            loops: Default::default(),
            widest,
            joining: Joining::None,
        }
    }

    /// The names of the parameters, as templates see them.
    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        let params = self.base.get("params").and_then(Value::as_object);
        params
            .into_iter()
            .flat_map(|p| p.keys().map(String::as_str))
    }

    /// The value of the parameter `name`, as templates see it.
    pub fn param(&self, name: &str) -> Option<&Value> {
        self.base.get("params")?.get(name)
    }

    /// Renders as for a cluster that members join while it runs (`berth plan`).
    pub fn set_joining(&mut self, joining: Joining) {
        self.joining = joining;
    }

    /// Renders a `[membership]` command's argument in `context`, built once for the words of a
    /// command by [`Self::membership_context`].
    pub fn try_membership(
        &self,
        source: &str,
        context: &MembershipContext,
    ) -> Result<String, TemplateFailure> {
        self.render_with(source, &context.context, context.members)
    }

    /// The context a `[membership]` command sees: `name`, `params`, `port`, `member` (with its
    /// `id` where known) and `members`: `member` is the member concerned (with its `id` where the
    /// plan finds one), `members` the current members.
    pub fn membership_context(
        &self,
        member: &Member,
        members: &[Member],
        id: Option<&str>,
    ) -> MembershipContext {
        let mut context = self.base.clone();
        let mut concerned = json!(member);
        if let Some(id) = id {
            concerned["id"] = json!(id);
        }
        context.insert("member".into(), concerned);
        context.insert("members".into(), json!(members));
        MembershipContext {
            context: Context::from(Value::Object(context)),
            members: members.len(),
        }
    }

    /// Renders a structural string (`replicas`, `size`, backend options): params only.
    pub fn render_structural(
        &self,
        source: &str,
        span: Option<Span>,
    ) -> Result<String, Diagnostic> {
        self.try_structural(source)
            .map_err(|failure| failure.into_diagnostic(span))
    }

    pub fn try_structural(&self, source: &str) -> Result<String, TemplateFailure> {
        self.render_with(source, &self.structural, 0)
    }

    /// Renders a `[container]` or `[init]` string with `self`, `peers` and `peer_hosts`.
    pub fn render_member(
        &self,
        template: &Template,
        identity: &Identity,
    ) -> Result<String, Diagnostic> {
        self.try_member(&template.source, identity)
            .map_err(|failure| failure.into_diagnostic(template.span.clone()))
    }

    pub fn try_member(&self, source: &str, identity: &Identity) -> Result<String, TemplateFailure> {
        if !source.contains("{{") {
            return self
                .verbatim(source)
                .map_err(|failure| failure.for_member(identity));
        }
        let context = self.member_context(identity);
        self.render_with(source, context, identity.peers.len())
            .map_err(|failure| failure.for_member(identity))
    }

    /// The context a `[container]` string sees as `identity`: `name`, `params`, `port`, `self`,
    /// `peers` and `peer_hosts` (what a chart's translated templates read, [`crate::go_template`]).
    pub fn member_context<'i>(&self, identity: &'i Identity) -> &'i Context {
        identity.context.get_or_init(|| {
            let mut context = self.base.clone();
            if let Some(me) = identity.me {
                let mut me_json = json!(me);
                let joining = match &self.joining {
                    Joining::None => false,
                    Joining::Member(ordinal) => *ordinal == me.ordinal,
                    Joining::Every => true,
                };
                me_json["joining"] = json!(joining);
                context.insert("self".into(), me_json);
            }
            context.insert("peers".into(), json!(identity.peers));
            let hosts: Vec<&str> = identity.peers.iter().map(|p| p.host.as_str()).collect();
            context.insert("peer_hosts".into(), json!(hosts));
            Context::from(Value::Object(context))
        })
    }

    /// Prices a rendering before it runs: `{{#each}}` blocks nested `depth` deep over lists of at
    /// most `widest` items (the members, or the longest list of the parameters) take up to
    /// `widest ^ depth` steps, whatever they write; all renderings of a compile together may take
    /// [`COMPILE_LOOP_LIMIT`].
    fn charge_loops(&self, depth: u32, peers: usize) -> Result<(), TemplateFailure> {
        if depth == 0 {
            return Ok(());
        }
        let widest = (self.widest.max(peers) as u64).max(1);
        let steps = widest.saturating_pow(depth);
        let used = self
            .loops
            .fetch_add(steps, std::sync::atomic::Ordering::Relaxed);
        if used.saturating_add(steps) <= COMPILE_LOOP_LIMIT {
            return Ok(());
        }
        Err(TemplateFailure {
            reason: format!(
                "this template nests `{{{{#each}}}}` {depth} deep over lists of up to {widest} items: with every member of every backend, that passes berth's limit of {COMPILE_LOOP_LIMIT} loop steps for one compile"
            ),
            help: "nest fewer `{{#each}}` blocks: `join peer_hosts \",\"` lists the members in one step".into(),
            position: None,
            missing: None,
            limit: true,
        })
    }

    /// A string without expressions, counted against the compile's limit like a rendering: a
    /// large file repeated for every member and backend adds up as well.
    fn verbatim(&self, source: &str) -> Result<String, TemplateFailure> {
        let used = self
            .rendered
            .fetch_add(source.len() as u64, std::sync::atomic::Ordering::Relaxed);
        if used + source.len() as u64 > COMPILE_RENDER_LIMIT {
            return Err(limit_failure(used));
        }
        Ok(source.to_string())
    }

    /// Renders `source` in `context`, where `peers` members are listed, within the limits.
    fn render_with(
        &self,
        source: &str,
        context: &Context,
        peers: usize,
    ) -> Result<String, TemplateFailure> {
        if !source.contains("{{") {
            return self.verbatim(source);
        }
        let compiled = compiled(source, parse)?;
        self.charge_loops(compiled.loop_depth, peers)?;
        let used = self.rendered.load(std::sync::atomic::Ordering::Relaxed);
        let mut out = Bounded {
            bytes: Vec::new(),
            room: (COMPILE_RENDER_LIMIT.saturating_sub(used) as usize).min(RENDER_LIMIT),
            exceeded: false,
        };
        let rendered = compiled.template.render(
            &self.handlebars,
            context,
            &mut RenderContext::new(None),
            &mut WriteOutput::new(&mut out),
        );
        if out.exceeded {
            return Err(limit_failure(used));
        }
        self.rendered
            .fetch_add(out.bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let rendered = rendered.map(|()| String::from_utf8(out.bytes).unwrap_or_default());
        rendered.map_err(|error| {
            let mut failure = explain_failure(error);
            let hint = failure.missing.as_deref().and_then(|path| {
                inside_each(path, context.data()).or_else(|| did_you_mean(path, context.data()))
            });
            if let Some(hint) = hint {
                failure.help = hint;
            }
            failure
        })
    }
}

/// `source` parsed (once per process, [`compiled`]), within berth's limits.
pub(crate) fn parsed(source: &str) -> Result<std::sync::Arc<Compiled>, TemplateFailure> {
    compiled(source, parse)
}

/// `source` parsed, once its nesting is known to be within berth's limits.
fn parse(source: &str) -> Result<Compiled, TemplateFailure> {
    let loop_depth = loop_depth(source)?;
    let template = handlebars::Template::compile(source)
        .map_err(|e| explain_failure(RenderErrorReason::TemplateError(e).into()))?;
    Ok(Compiled {
        template,
        loop_depth,
    })
}

/// The longest list or table anywhere in `value`.
fn widest(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.iter().map(widest).fold(items.len(), usize::max),
        Value::Object(map) => map.values().map(widest).fold(map.len(), usize::max),
        _ => 0,
    }
}

/// Text written by handlebars, refused past `room` bytes.
struct Bounded {
    bytes: Vec<u8>,
    room: usize,
    exceeded: bool,
}

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() > self.room {
            self.exceeded = true;
            return Err(std::io::Error::other("berth's rendering limit"));
        }
        self.room -= buf.len();
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn limit_failure(used: u64) -> TemplateFailure {
    let mib = |bytes: u64| bytes / (1024 * 1024);
    let reason = if used + RENDER_LIMIT as u64 >= COMPILE_RENDER_LIMIT {
        format!(
            "this template passes berth's limit of {} MiB of rendered text for one compile (every member of every backend together)",
            mib(COMPILE_RENDER_LIMIT)
        )
    } else {
        format!(
            "this template renders more than berth's limit of {} MiB for one string",
            mib(RENDER_LIMIT as u64)
        )
    };
    TemplateFailure {
        reason,
        help: "render less per member: a file that lists every member, in every member, grows with the square of `replicas`; keep large data in a volume or image".into(),
        position: None,
        missing: None,
        limit: true,
    }
}

/// Refuses what can recurse or nest without bound before handlebars parses it: partials
/// (`{{> name}}`, `{{#> name}}`), inline partials and decorators (`{{#*inline}}`, `{{*name}}`),
/// and blocks or subexpressions nested deeper than [`NESTING_LIMIT`]. Returns how deep
/// `{{#each}}` blocks nest, which the renderer prices. One pass over the text.
fn loop_depth(source: &str) -> Result<u32, TemplateFailure> {
    let refuse = |reason: String, help: &str| TemplateFailure {
        reason,
        help: help.into(),
        position: None,
        missing: None,
        limit: false,
    };
    // Each open block, and whether it is an `each`.
    let mut blocks: Vec<bool> = Vec::new();
    let (mut loops, mut deepest_loop) = (0u32, 0u32);
    let mut rest = source;
    while let Some(at) = rest.find("{{") {
        let escaped = rest[..at].ends_with('\\');
        let after = &rest[at + 2..];
        // An unclosed expression: handlebars reports it.
        let Some(end) = after.find("}}") else {
            break;
        };
        let body = after[..end].trim_start_matches(['{', '~']);
        rest = &after[end + 2..];
        if escaped {
            continue;
        }
        if body.starts_with('>')
            || body.starts_with("#>")
            || body.starts_with('*')
            || body.starts_with("#*")
        {
            return Err(refuse(
                "invalid template: partials, inline partials and decorators are not part of berth's templates".into(),
                "write the text where it is used, or use `{{#each}}` over `peers`",
            ));
        }
        if body.starts_with('#') || (body.starts_with('^') && body.len() > 1) {
            let each = body[1..].trim_start().starts_with("each");
            blocks.push(each);
            loops += u32::from(each);
            deepest_loop = deepest_loop.max(loops);
        } else if body.starts_with('/') && blocks.pop() == Some(true) {
            loops -= 1;
        }
        let (mut parens, mut deepest_parens) = (0usize, 0usize);
        for c in body.chars() {
            match c {
                '(' => parens += 1,
                ')' => parens = parens.saturating_sub(1),
                _ => {}
            }
            deepest_parens = deepest_parens.max(parens);
        }
        if blocks.len().max(deepest_parens) > NESTING_LIMIT {
            return Err(refuse(
                format!(
                    "invalid template: blocks or subexpressions nested deeper than {NESTING_LIMIT}"
                ),
                "flatten the template: compute the value in a parameter, or split it into several strings",
            ));
        }
    }
    Ok(deepest_loop)
}

/// The help for a name that `{{#each}}` hid: inside the block, names are the item's. A name
/// the spec defines at the top is reached with `@root`; `this.X` must be a member's field.
fn inside_each(path: &str, data: &Value) -> Option<String> {
    let bare = path.trim_start_matches("this.");
    let at_root = bare
        .split('.')
        .try_fold(data, |node, key| node.get(key))
        .is_some();
    if at_root {
        return Some(format!(
            "inside `{{{{#each}}}}`, names are the item's: write `{{{{@root.{bare}}}}}` for the spec's `{bare}`"
        ));
    }
    let field = path.strip_prefix("this.")?;
    let fields = ["ordinal", "name", "host"];
    let best = berth_diagnostic::closest(field, fields.iter().copied());
    let guess = best.map_or(String::new(), |b| format!("did you mean `this.{b}`? "));
    Some(format!(
        "{guess}a member of `peers` has `ordinal`, `name` and `host`; inside the block, the spec's own names are `@root.NAME`"
    ))
}

/// "did you mean" for an undefined path whose parent exists: `self.hostname` → `self.host`,
/// `params.versoin` → `params.version`.
fn did_you_mean(path: &str, data: &Value) -> Option<String> {
    let path = path.trim_start_matches("this.");
    let (parent, last) = path.rsplit_once('.')?;
    let mut node = data;
    for key in parent.split('.') {
        node = node.get(key)?;
    }
    let best = berth_diagnostic::closest(last, node.as_object()?.keys().map(String::as_str))?;
    Some(format!("did you mean `{parent}.{best}`?"))
}

fn explain_failure(error: RenderError) -> TemplateFailure {
    let mut position = error.line_no.zip(error.column_no);
    let mut missing = None;
    let (reason, help) = match error.reason() {
        RenderErrorReason::MissingVariable(Some(path)) => {
            let root = path
                .trim_start_matches("this.")
                .split(['.', '['])
                .next()
                .unwrap_or("");
            let help = match root {
                _ if path.contains(".published") => "a member's `published` address exists where berth publishes each member's ports on an address clients can dial: docker and compose (with `publish_address` a real address, not `0.0.0.0`), and Marathon with `hosts`; elsewhere, give the address as a parameter, or leave this backend out of `targets`".to_string(),
                "self" => "use `self` only in `[container]` strings; `[init]` and structural keys are not a member (use `peers.[0]` in `[init]`)".to_string(),
                "peers" | "peer_hosts" => "use `peers` only in `[container]` and `[init]` strings, and only indexes below the replica count".to_string(),
                "params" => "declare the parameter under `[params.NAME]` or fix its name".to_string(),
                "port" => "name a port declared under `[[ports]]`".to_string(),
                _ => "use one of `name`, `params.*`, `port.*`, `self`, `peers`, `peer_hosts`".to_string(),
            };
            missing = Some(path.clone());
            (format!("undefined template variable `{path}`"), help)
        }
        RenderErrorReason::TemplateError(inner) => {
            position = position.or(inner.pos());
            // The parser's own words name its grammar rules; say what is wrong instead.
            let unclosed = "close every `{{` with `}}`, or write a literal `{{` as `\\{{`";
            let (reason, help) = match inner.reason() {
                TemplateErrorReason::InvalidSyntax(_) => (
                    "an expression is not closed: every `{{` needs its `}}`".to_string(),
                    unclosed.to_string(),
                ),
                TemplateErrorReason::MismatchingClosedHelper(open, close) => (
                    format!("block `{{{{#{open}}}}}` is closed by `{{{{/{close}}}}}`"),
                    format!("close `{{{{#{open}}}}}` with `{{{{/{open}}}}}`"),
                ),
                other => (other.to_string(), unclosed.to_string()),
            };
            (format!("invalid template: {reason}"), help)
        }
        RenderErrorReason::HelperNotFound(name) => (
            format!("unknown template helper `{name}`"),
            "use `join LIST SEPARATOR` or a built-in handlebars helper".to_string(),
        ),
        other => (
            format!("template failed: {other}"),
            "check the expression against the template context in docs/spec.md".to_string(),
        ),
    };
    TemplateFailure {
        reason,
        help,
        position,
        missing,
        limit: false,
    }
}

impl TemplateFailure {
    /// A limit's failure says which member's rendering passed it.
    fn for_member(mut self, identity: &Identity) -> Self {
        if let (true, Some(me)) = (self.limit, identity.me) {
            self.reason
                .push_str(&format!(" (rendering it for member `{}`)", me.name));
        }
        self
    }

    pub fn into_diagnostic(self, span: Option<Span>) -> Diagnostic {
        let code = if self.limit {
            &errors::SPEC_LIMIT
        } else if self.reason.starts_with("undefined") {
            &errors::SPEC_UNDEFINED_VARIABLE
        } else {
            &errors::SPEC_INVALID_TEMPLATE
        };
        Diagnostic::input(code, self.reason)
            .at(span, "in this template")
            .help(self.help)
    }
}

/// A helper made of a function from its parameters to the text it writes.
fn text_helper(
    write: fn(&Helper) -> Result<String, RenderErrorReason>,
) -> impl HelperDef + Send + Sync {
    move |helper: &Helper,
          _: &Handlebars,
          _: &Context,
          _: &mut RenderContext,
          out: &mut dyn Output|
          -> HelperResult {
        out.write(&write(helper)?)?;
        Ok(())
    }
}

/// `{{add A B}}`: the sum of two integers, or of integers written as strings (`self.ordinal`):
/// `{{add self.ordinal 1}}` counts members from 1, as ZooKeeper's and Kafka's ids do.
fn add(helper: &Helper) -> Result<String, RenderErrorReason> {
    let integer = |index: usize| -> Result<i64, RenderErrorReason> {
        let param = helper
            .param(index)
            .ok_or(RenderErrorReason::ParamNotFoundForIndex("add", index))?;
        match param.value() {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
        .ok_or_else(|| RenderErrorReason::Other("`add` needs integers".into()))
    };
    integer(0)?
        .checked_add(integer(1)?)
        .map(|sum| sum.to_string())
        .ok_or_else(|| RenderErrorReason::Other("`add` overflows a 64-bit integer".into()))
}

/// `{{join LIST "SEP"}}`: the items of a list of strings or numbers, separated by SEP.
fn join(helper: &Helper) -> Result<String, RenderErrorReason> {
    let list = helper
        .param(0)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("join", 0))?;
    let separator = helper
        .param(1)
        .and_then(|p| p.value().as_str())
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("join", 1))?;
    let items = list
        .value()
        .as_array()
        .ok_or(RenderErrorReason::InvalidParamType(
            "list (for example `peer_hosts`)",
        ))?;
    let mut rendered = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::String(s) => rendered.push(s.clone()),
            Value::Number(n) => rendered.push(n.to_string()),
            Value::Bool(b) => rendered.push(b.to_string()),
            _ => {
                return Err(RenderErrorReason::InvalidParamType(
                    "list of strings (use `peer_hosts`, not `peers`)",
                ));
            }
        }
    }
    Ok(rendered.join(separator))
}

#[cfg(test)]
mod tests {
    #[test]
    fn self_reads_says_which_identity_a_template_can_write() {
        use super::self_reads;
        let cases = [
            ("--name={{self.name}}", [true, false]),
            ("{{#if params.tls}}{{self.host}}{{/if}}", [true, false]),
            ("{{add self.ordinal 1}}", [false, true]),
            (
                "{{#if self.joining}}existing{{else}}new{{/if}}",
                [false, false],
            ),
            ("{{self.published.client}}", [false, false]),
            ("{{self}}", [true, true]),
            (
                "{{#each peers}}{{this.name}}{{/each}} self-signed {{myself}}",
                [false, false],
            ),
            ("{{@root.self.ordinal}}", [false, true]),
        ];
        for (source, reads) in cases {
            assert_eq!(self_reads(source), reads, "{source}");
        }
    }

    #[test]
    fn self_computed_is_self_read_other_than_written_alone() {
        use super::self_computed;
        for (source, computed) in [
            (
                "--name={{self.name}} {{ self.host }} {{~self.ordinal~}}",
                false,
            ),
            ("{{#if params.x}}{{self.name}}{{/if}}", false),
            ("{{#if self.joining}}existing{{else}}new{{/if}}", false),
            ("{{add self.ordinal 1}}", true),
            (
                "{{#if params.b}}{{#if (eq self.ordinal \"0\")}}x{{/if}}{{/if}}",
                true,
            ),
            (
                "{{#each peers}}{{#if (eq this.name ../self.name)}}me{{/if}}{{/each}}",
                true,
            ),
            ("{{self}}", true),
        ] {
            assert_eq!(self_computed(source), computed, "{source}");
        }
    }

    use super::Template;

    #[test]
    fn names_self_reads_only_actions() {
        let names = |source: &str| {
            Template {
                source: source.into(),
                span: None,
            }
            .names_self()
        };
        assert!(names("node.name: {{self.name}}"));
        assert!(names("{{#if self.joining}}x{{/if}}"));
        assert!(names("{{add self.ordinal 1}}"));
        assert!(!names("a self-signed certificate of itself"));
        assert!(!names("{{params.selfish}} {{myself}}"));
        assert!(!names("{{#each peers}}{{this.name}}{{/each}}"));
    }
}
