//! Resolution of `[replication]`: replicas, quorum, spread and start order.

use super::*;

impl Resolver<'_> {
    pub(super) fn replication(
        &mut self,
        replication: Option<&toml::Spanned<spec::Replication>>,
        has_tls: bool,
    ) -> Replication {
        let none = spec::Replication {
            replicas: None,
            quorum: None,
            spread: None,
            start: None,
            discovery: None,
            encryption: None,
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
        let default_spread = if replicas.value > 1 {
            Spread::Required
        } else {
            Spread::None
        };
        Replication {
            replicas,
            spread_written: rep.spread.is_some(),
            quorum: self.located_choice(
                &rep.quorum,
                "replication.quorum",
                &[("majority", Quorum::Majority), ("none", Quorum::None)],
                Quorum::None,
                &table_span,
            ),
            spread: self.located_choice(
                &rep.spread,
                "replication.spread",
                &[
                    ("required", Spread::Required),
                    ("preferred", Spread::Preferred),
                    ("none", Spread::None),
                ],
                default_spread,
                &table_span,
            ),
            start: self.located_choice(
                &rep.start,
                "replication.start",
                &[("parallel", Start::Parallel), ("ordered", Start::Ordered)],
                Start::Parallel,
                &table_span,
            ),
            discovery: self.located_choice(
                &rep.discovery,
                "replication.discovery",
                &[
                    ("retrying", Discovery::Retrying),
                    ("at-start", Discovery::AtStart),
                ],
                Discovery::Retrying,
                &table_span,
            ),
            encryption: self.encryption(&rep.encryption, has_tls, &table_span),
        }
    }

    /// `replication.encryption`: `tls` needs `[tls]`; unsaid, TLS where the spec has it, else the
    /// network's encryption.
    fn encryption(
        &mut self,
        value: &Option<SString>,
        has_tls: bool,
        table_span: &Option<Span>,
    ) -> Located<Encryption> {
        let default = if has_tls {
            Encryption::Tls
        } else {
            Encryption::Network
        };
        let choices = [
            ("tls", Encryption::Tls),
            ("network", Encryption::Network),
            ("none", Encryption::None),
        ];
        let chosen = self.located_choice(
            value,
            "replication.encryption",
            &choices,
            default,
            table_span,
        );
        if let (Encryption::Tls, false, Some(s)) = (chosen.value, has_tls, value) {
            self.error(
                &errors::SPEC_MISSING_KEY,
                s.span(),
                "`replication.encryption` is `tls`, but the spec has no `[tls]`".to_string(),
                "no certificates",
                "add `[tls]` naming the certificates, or choose `\"network\"` or `\"none\"`"
                    .to_string(),
            );
        }
        chosen
    }

    /// One of `choices` where the spec says it, else `default` at the table's span.
    fn located_choice<T: Copy>(
        &mut self,
        value: &Option<SString>,
        key: &str,
        choices: &[(&str, T)],
        default: T,
        table_span: &Option<Span>,
    ) -> Located<T> {
        match value {
            Some(s) => Located::new(
                self.choice(s, key, choices).unwrap_or(default),
                self.span(s.span()),
            ),
            None => Located::new(default, table_span.clone()),
        }
    }
}
