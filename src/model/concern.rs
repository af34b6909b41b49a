//! How a backend realized each concern of a stateful service: `native`, `emulated` (with the
//! mechanism), `degraded` (what is lost) or `unsupported` (why). Backends record one
//! [`Realization`] per [`Concern`]; `berth diff` and `berth-report.json` show them side by side.

use serde::Serialize;

use super::Service;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Concern {
    Storage,
    StorageClass,
    Identity,
    Discovery,
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
    pub const ALL: [Concern; 15] = [
        Concern::Storage,
        Concern::StorageClass,
        Concern::Identity,
        Concern::Discovery,
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

/// Collects realizations in a backend: `table.native(Concern::Spread, "...")`. A concern the
/// spec does not ask for is noted as such, so a claim never reads as if the output realized it.
pub struct Table<'s> {
    service: &'s Service,
    pub realizations: Vec<Realization>,
}

impl<'s> Table<'s> {
    pub fn new(service: &'s Service) -> Self {
        Table {
            service,
            realizations: Vec::new(),
        }
    }
    fn push(&mut self, concern: Concern, status: Status, detail: impl Into<String>) {
        let detail = detail.into();
        let detail = if concern.used_by(self.service) {
            detail
        } else {
            format!("{detail} (not used by this spec)")
        };
        self.realizations.push(Realization {
            concern,
            status,
            detail,
        });
    }
    pub fn native(&mut self, concern: Concern, detail: impl Into<String>) {
        self.push(concern, Status::Native, detail);
    }
    pub fn emulated(&mut self, concern: Concern, detail: impl Into<String>) {
        self.push(concern, Status::Emulated, detail);
    }
    pub fn degraded(&mut self, concern: Concern, detail: impl Into<String>) {
        self.push(concern, Status::Degraded, detail);
    }
    pub fn unsupported(&mut self, concern: Concern, detail: impl Into<String>) {
        self.push(concern, Status::Unsupported, detail);
    }
}
