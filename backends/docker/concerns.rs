//! How the docker backend realizes each concern.

use berth_model::concern::{Concern::*, Realization, Table};
use berth_model::{Service, Spread, Start};

pub fn concerns(
    service: &Service,
    _: &berth_backends_shared::single_host::Publish,
) -> Vec<Realization> {
    let mut t = Table::new(service);
    t.native(
        Storage,
        "a named volume per member and persistent volume, <name>-<ordinal>-<volume>",
    );
    t.unsupported(
        StorageClass,
        "the engine's default volume driver; `class` is ignored",
    );
    t.native(
        Identity,
        "containers <name>-<ordinal> with matching --hostname and --network-alias",
    );
    t.native(
        Discovery,
        "a user-defined network whose DNS resolves each member by name",
    );
    if service.replicas() > 1 && service.replication.spread.value != Spread::None {
        t.unsupported(Spread, "one engine is one host: every replica runs there");
    } else {
        t.native(Spread, "nothing to spread");
    }
    t.unsupported(DisruptionBudget, "a single engine has no drains");
    if service.container.shell == Some(false) && service.health.liveness.is_some() {
        t.unsupported(
            Liveness,
            "no check: the image has no /bin/sh, which --health-cmd runs through",
        );
    } else {
        t.degraded(Liveness, "--health-cmd through /bin/sh; docker reports health but does not restart unhealthy containers");
    }
    t.unsupported(
        Readiness,
        "no load balancer to take a member out of rotation",
    );
    match service.replication.start.value {
        Start::Parallel => t.native(StartOrder, "members start together"),
        Start::Ordered => t.emulated(
            StartOrder,
            "run.sh waits for each member's health before the next",
        ),
    }
    t.degraded(
        RollingUpdate,
        "a changed spec is reported; the container is replaced by hand (docker rm, run.sh)",
    );
    t.degraded(
        Resources,
        "--memory, --cpus limits and --memory-reservation; no CPU request",
    );
    t.emulated(
        Init,
        "run.sh creates <name>-init once and starts it until it succeeds",
    );
    t.emulated(
        Secrets,
        "variables taken from the caller's environment when run.sh runs (--env NAME); secret files from the user's files in secrets/ beside run.sh",
    );
    t.emulated(
        Files,
        "written beside run.sh (secrets: the user's files in secrets/) and bind-mounted read-only; a start script copies in a file that needs an owner; a changed file is reported like a changed spec",
    );
    t.emulated(
        TlsNames,
        "container names on the network; certificates from a named volume mounted read-only",
    );
    t.realizations
}
