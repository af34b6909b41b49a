//! Resolution of `[replication]`: replicas, quorum, spread and start order.

use super::*;

impl Resolver<'_> {
    pub(super) fn replication(
        &mut self,
        replication: Option<&toml::Spanned<spec::Replication>>,
    ) -> Replication {
        let none = spec::Replication {
            replicas: None,
            quorum: None,
            spread: None,
            start: None,
            discovery: None,
        };
        let (rep, table_span) = match replication {
            Some(r) => (r.get_ref(), self.span(r.span())),
            None => (&none, None),
        };
        let replicas = match &rep.replicas {
            Some(v) => Located::new(
                self.integer(v, "replication.replicas", 1, 1000)
                    .unwrap_or(1) as u32,
                self.span(v.span()),
            ),
            None => Located::new(1, table_span.clone()),
        };
        let quorum = match &rep.quorum {
            Some(s) => Located::new(
                self.choice(
                    s,
                    "replication.quorum",
                    &[("majority", Quorum::Majority), ("none", Quorum::None)],
                )
                .unwrap_or(Quorum::None),
                self.span(s.span()),
            ),
            None => Located::new(Quorum::None, table_span.clone()),
        };
        let default_spread = if replicas.value > 1 {
            Spread::Required
        } else {
            Spread::None
        };
        let spread = match &rep.spread {
            Some(s) => Located::new(
                self.choice(
                    s,
                    "replication.spread",
                    &[
                        ("required", Spread::Required),
                        ("preferred", Spread::Preferred),
                        ("none", Spread::None),
                    ],
                )
                .unwrap_or(default_spread),
                self.span(s.span()),
            ),
            None => Located::new(default_spread, table_span.clone()),
        };
        let start = match &rep.start {
            Some(s) => Located::new(
                self.choice(
                    s,
                    "replication.start",
                    &[("parallel", Start::Parallel), ("ordered", Start::Ordered)],
                )
                .unwrap_or(Start::Parallel),
                self.span(s.span()),
            ),
            None => Located::new(Start::Parallel, table_span.clone()),
        };
        let discovery = match &rep.discovery {
            Some(s) => Located::new(
                self.choice(
                    s,
                    "replication.discovery",
                    &[
                        ("retrying", Discovery::Retrying),
                        ("at-start", Discovery::AtStart),
                    ],
                )
                .unwrap_or(Discovery::Retrying),
                self.span(s.span()),
            ),
            None => Located::new(Discovery::Retrying, table_span),
        };
        Replication {
            replicas,
            quorum,
            spread,
            start,
            discovery,
        }
    }
}
