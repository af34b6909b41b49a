//! How the docker backend realizes each concern.

use berth_model::concern::{Claim, Concerns};
use berth_model::{Service, Spread, Start};

pub fn concerns(service: &Service, _: &berth_backends_shared::single_host::Publish) -> Concerns {
    Concerns {
        storage: Claim::native(
            "a named volume per member and persistent volume, <name>-<ordinal>-<volume>, or the existing one `external` names",
        ),
        storage_class: Claim::unsupported("the engine's default volume driver; `class` is ignored"),
        identity: Claim::native(
            "containers <name>-<ordinal> with matching --hostname and --network-alias",
        ),
        discovery: Claim::native("a user-defined network whose DNS resolves each member by name"),
        network: Claim::native(
            "--network-alias for each alias; run.sh creates the network `network.name` names if missing, down.sh removes it with its last container",
        ),
        spread: if service.replicas() > 1 && service.replication.spread.value != Spread::None {
            Claim::unsupported("one engine is one host: every replica runs there")
        } else {
            Claim::native("nothing to spread")
        },
        disruption_budget: Claim::unsupported("a single engine has no drains"),
        liveness: if service.container.shell == Some(false) && service.health.liveness.is_some() {
            Claim::unsupported(
                "no check: the image has no /bin/sh, which --health-cmd runs through",
            )
        } else {
            Claim::degraded(
                "--health-cmd through /bin/sh; docker reports health but does not restart unhealthy containers",
            )
        },
        readiness: Claim::unsupported("no load balancer to take a member out of rotation"),
        start_order: match service.replication.start.value {
            Start::Parallel => Claim::native("members start together"),
            Start::Ordered if crate::health_gates_start(service) => {
                Claim::emulated("run.sh waits for each member's health before the next")
            }
            Start::Ordered => Claim::degraded(
                "run.sh starts the members in order without waiting: their health check needs the peers not yet started, or the engine cannot run it",
            ),
        },
        rolling_update: Claim::degraded(
            "a changed spec is reported; the container is replaced by hand (docker rm, run.sh)",
        ),
        resources: Claim::degraded(
            "--memory, --cpus limits and --memory-reservation; no CPU request",
        ),
        init: Claim::emulated("run.sh creates <name>-init once and starts it until it succeeds"),
        secrets: Claim::emulated(
            "variables taken from the caller's environment when run.sh runs (--env NAME); secret files from the user's files in secrets/ beside run.sh",
        ),
        files: Claim::emulated(
            "written beside run.sh (secrets: the user's files in secrets/) and bind-mounted read-only; a start script copies in a file that needs an owner; a changed file is reported like a changed spec",
        ),
        tls_names: Claim::emulated(
            "container names on the network; certificates from a named volume mounted read-only",
        ),
    }
}
