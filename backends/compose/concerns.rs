//! How the compose backend realizes each concern.

use berth_model::concern::{Concern::*, Realization, Table};
use berth_model::{Service, Spread, Start};

pub fn concerns(
    service: &Service,
    _: &berth_backends_shared::single_host::Publish,
) -> Vec<Realization> {
    let mut t = Table::new(service);
    t.emulated(
        Storage,
        "one service per member, each with its own named volume declared with an explicit name",
    );
    t.unsupported(
        StorageClass,
        "the engine's default volume driver; `class` is ignored",
    );
    t.emulated(
        Identity,
        "one service <name>-<ordinal> per member, with that hostname",
    );
    t.native(
        Discovery,
        "the network's DNS resolves each member service by name",
    );
    if service.replicas() > 1 && service.replication.spread.value != Spread::None {
        t.unsupported(Spread, "one engine is one host: every replica runs there");
    } else {
        t.native(Spread, "nothing to spread");
    }
    t.unsupported(DisruptionBudget, "a single engine has no drains");
    t.degraded(
        Liveness,
        "healthcheck; compose reports health but does not restart unhealthy containers",
    );
    t.unsupported(
        Readiness,
        "no load balancer to take a member out of rotation",
    );
    match service.replication.start.value {
        Start::Parallel => t.native(
            StartOrder,
            "members start together and never depend on each other",
        ),
        Start::Ordered => t.native(
            StartOrder,
            "depends_on the previous member with condition service_healthy",
        ),
    }
    t.degraded(RollingUpdate, "up recreates changed members all at once");
    t.degraded(
        Resources,
        "cpus, mem_limit and mem_reservation; no CPU request",
    );
    t.emulated(
        Init,
        "a one-shot service with restart on-failure:30, started again on every up",
    );
    t.emulated(
        Secrets,
        "NAME passed through from the environment of up (never written, and down needs no secret); secret files from the user's secrets/ directory",
    );
    t.emulated(
        Files,
        "written beside compose.yaml (secrets: the user's files in secrets/) and bind-mounted read-only; a start script copies in a file that needs an owner; a changed file changes the member's `berth.files` label, so `up` recreates it (all changed members at once)",
    );
    t.emulated(
        TlsNames,
        "service names on the network; certificates from an external volume mounted read-only",
    );
    t.realizations
}
