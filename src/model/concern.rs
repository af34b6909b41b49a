//! How a backend realized each concern of a stateful service: `native`, `emulated` (with the
//! mechanism), `degraded` (what is lost) or `unsupported` (why). A backend fills [`Concerns`], one
//! [`Claim`] per [`Concern`]; `berth diff` and `berth-report.json` show them side by side as
//! [`Realization`]s.

use serde::Serialize;

use super::Service;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Concern {
    Storage,
    StorageClass,
    Identity,
    Discovery,
    Network,
    Spread,
    DisruptionBudget,
    Liveness,
    Readiness,
    StartOrder,
    RollingUpdate,
    Resources,
    Init,
    Secrets,
    Files,
    TlsNames,
}

impl Concern {
    pub const ALL: [Concern; 16] = [
        Concern::Storage,
        Concern::StorageClass,
        Concern::Identity,
        Concern::Discovery,
        Concern::Network,
        Concern::Spread,
        Concern::DisruptionBudget,
        Concern::Liveness,
        Concern::Readiness,
        Concern::StartOrder,
        Concern::RollingUpdate,
        Concern::Resources,
        Concern::Init,
        Concern::Secrets,
        Concern::Files,
        Concern::TlsNames,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Concern::Storage => "storage",
            Concern::StorageClass => "storage-class",
            Concern::Identity => "identity",
            Concern::Discovery => "discovery",
            Concern::Network => "network",
            Concern::Spread => "spread",
            Concern::DisruptionBudget => "disruption-budget",
            Concern::Liveness => "liveness",
            Concern::Readiness => "readiness",
            Concern::StartOrder => "start-order",
            Concern::RollingUpdate => "rolling-update",
            Concern::Resources => "resources",
            Concern::Init => "init",
            Concern::Secrets => "secrets",
            Concern::Files => "files",
            Concern::TlsNames => "tls-names",
        }
    }
}

impl Concern {
    /// Whether the spec asks for the concern at all; every service has storage, identity and the
    /// rest, but not necessarily checks, resources, an init step, secrets, files or TLS.
    pub fn used_by(self, service: &Service) -> bool {
        match self {
            Concern::Liveness => service.health.liveness.is_some(),
            Concern::Readiness => service.health.readiness.is_some(),
            Concern::Resources => service.resources.is_some(),
            Concern::Init => service.init.is_some(),
            Concern::Secrets => service.uses_secrets(),
            Concern::Files => !service.files.is_empty(),
            Concern::TlsNames => service.tls.is_some(),
            Concern::Network => {
                service.network.name.is_some() || !service.network.aliases.is_empty()
            }
            _ => true,
        }
    }

    /// What the concern means for a stateful service, for `berth explain`.
    pub fn meaning(self) -> &'static str {
        match self {
            Concern::Storage => "each member's data outlives its container",
            Concern::StorageClass => {
                "the disk the data lives on is chosen, not the platform's default"
            }
            Concern::Identity => "each member has a stable name and ordinal",
            Concern::Discovery => "members find each other by stable names, before they are ready",
            Concern::Network => {
                "other services reach the members on a network they share, by the names the spec gives"
            }
            Concern::Spread => "members run on different hosts",
            Concern::DisruptionBudget => "planned maintenance never takes down a majority",
            Concern::Liveness => "a hung member is restarted, by a check that needs no quorum",
            Concern::Readiness => "clients reach only members that serve",
            Concern::StartOrder => "members start without waiting on a quorum that cannot form",
            Concern::RollingUpdate => "an upgrade replaces one member at a time",
            Concern::Resources => "members get and are limited to the CPU and memory they need",
            Concern::Init => "the cluster is bootstrapped once, retrying until it answers",
            Concern::Secrets => "secret values are referenced, never written into files",
            Concern::Files => {
                "configuration and secret files reach each member with their mode and owner, and a change rolls the members"
            }
            Concern::TlsNames => "certificates name stable DNS names, not addresses",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Native,
    Emulated,
    Degraded,
    Unsupported,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Native => "native",
            Status::Emulated => "emulated",
            Status::Degraded => "degraded",
            Status::Unsupported => "unsupported",
        }
    }
}

/// Fields in alphabetical order, as the report has always listed them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Realization {
    pub concern: Concern,
    pub detail: String,
    pub status: Status,
}

/// What a backend claims for one concern: a [`Status`] and, in a few words, how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub status: Status,
    pub detail: String,
}

impl Claim {
    pub fn native(detail: impl Into<String>) -> Claim {
        Claim::new(Status::Native, detail)
    }
    pub fn emulated(detail: impl Into<String>) -> Claim {
        Claim::new(Status::Emulated, detail)
    }
    pub fn degraded(detail: impl Into<String>) -> Claim {
        Claim::new(Status::Degraded, detail)
    }
    pub fn unsupported(detail: impl Into<String>) -> Claim {
        Claim::new(Status::Unsupported, detail)
    }
    fn new(status: Status, detail: impl Into<String>) -> Claim {
        Claim {
            status,
            detail: detail.into(),
        }
    }
}

/// A backend's claims, one field per [`Concern`]: each backend's `concerns.rs` writes it as one
/// struct literal, so a concern left out or written twice does not compile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Concerns {
    pub storage: Claim,
    pub storage_class: Claim,
    pub identity: Claim,
    pub discovery: Claim,
    pub network: Claim,
    pub spread: Claim,
    pub disruption_budget: Claim,
    pub liveness: Claim,
    pub readiness: Claim,
    pub start_order: Claim,
    pub rolling_update: Claim,
    pub resources: Claim,
    pub init: Claim,
    pub secrets: Claim,
    pub files: Claim,
    pub tls_names: Claim,
}

impl Concerns {
    /// The claims in the order of [`Concern::ALL`], as the report and `berth diff` show them. A
    /// concern the spec does not ask for is noted as such, so a claim never reads as if the output
    /// realized it.
    pub fn realizations(self, service: &Service) -> Vec<Realization> {
        self.claims()
            .into_iter()
            .map(|(concern, Claim { status, detail })| Realization {
                concern,
                status,
                detail: if concern.used_by(service) {
                    detail
                } else {
                    format!("{detail} (not used by this spec)")
                },
            })
            .collect()
    }

    /// Each field with its concern.
    fn claims(self) -> [(Concern, Claim); 16] {
        // Destructured, not read field by field: a field added to the struct must be placed here.
        let Concerns {
            storage,
            storage_class,
            identity,
            discovery,
            network,
            spread,
            disruption_budget,
            liveness,
            readiness,
            start_order,
            rolling_update,
            resources,
            init,
            secrets,
            files,
            tls_names,
        } = self;
        [
            (Concern::Storage, storage),
            (Concern::StorageClass, storage_class),
            (Concern::Identity, identity),
            (Concern::Discovery, discovery),
            (Concern::Network, network),
            (Concern::Spread, spread),
            (Concern::DisruptionBudget, disruption_budget),
            (Concern::Liveness, liveness),
            (Concern::Readiness, readiness),
            (Concern::StartOrder, start_order),
            (Concern::RollingUpdate, rolling_update),
            (Concern::Resources, resources),
            (Concern::Init, init),
            (Concern::Secrets, secrets),
            (Concern::Files, files),
            (Concern::TlsNames, tls_names),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each field is its own concern, in the order of [`Concern::ALL`], with its claim.
    #[test]
    fn claims_follow_concern_all_one_each() {
        let claim = |i: usize| Claim::native(format!("claim {i}"));
        let concerns = Concerns {
            storage: claim(0),
            storage_class: claim(1),
            identity: claim(2),
            discovery: claim(3),
            network: claim(4),
            spread: claim(5),
            disruption_budget: claim(6),
            liveness: claim(7),
            readiness: claim(8),
            start_order: claim(9),
            rolling_update: claim(10),
            resources: claim(11),
            init: claim(12),
            secrets: claim(13),
            files: claim(14),
            tls_names: claim(15),
        };
        let expected = Concern::ALL
            .into_iter()
            .enumerate()
            .map(|(i, c)| (c, claim(i)));
        assert!(concerns.claims().into_iter().eq(expected));
    }
}
