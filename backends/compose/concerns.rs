//! How the compose backend realizes each concern.

use berth_model::concern::{Claim, Concerns};
use berth_model::{Service, Spread, Start};

pub fn concerns(service: &Service, _: &berth_backends_shared::single_host::Publish) -> Concerns {
    Concerns {
        storage: Claim::emulated(
            "one service per member, each with its own named volume declared with an explicit name, or the existing one `external` names, declared external",
        ),
        storage_class: Claim::unsupported("the engine's default volume driver; `class` is ignored"),
        identity: Claim::emulated("one service <name>-<ordinal> per member, with that hostname"),
        discovery: Claim::native("the network's DNS resolves each member service by name"),
        network: Claim::native(
            "each member joins the network `network.name` names (declared with that name, so projects share it) with its `aliases`",
        ),
        spread: if service.replicas() > 1 && service.replication.spread.value != Spread::None {
            Claim::unsupported("one engine is one host: every replica runs there")
        } else {
            Claim::native("nothing to spread")
        },
        disruption_budget: Claim::unsupported("a single engine has no drains"),
        liveness: Claim::degraded(
            "healthcheck; compose reports health but does not restart unhealthy containers",
        ),
        readiness: Claim::unsupported("no load balancer to take a member out of rotation"),
        start_order: match service.replication.start.value {
            Start::Parallel => {
                Claim::native("members start together and never depend on each other")
            }
            Start::Ordered if crate::health_gates_start(service) => {
                Claim::native("depends_on the previous member with condition service_healthy")
            }
            Start::Ordered => Claim::degraded(
                "depends_on the previous member with condition service_started: its health check needs the peers not yet started, so it cannot gate the start",
            ),
        },
        rolling_update: Claim::degraded("up recreates changed members all at once"),
        resources: Claim::degraded("cpus, mem_limit and mem_reservation; no CPU request"),
        init: Claim::emulated(
            "a one-shot service with restart on-failure:30, started again on every up",
        ),
        secrets: Claim::emulated(
            "NAME passed through from the environment of up (never written, and down needs no secret); secret files from the user's secrets/ directory",
        ),
        files: Claim::emulated(
            "written beside compose.yaml (secrets: the user's files in secrets/) and bind-mounted read-only; a start script copies in a file that needs an owner; a changed file changes the member's `berth.files` label, so `up` recreates it (all changed members at once)",
        ),
        tls_names: Claim::emulated(
            "service names on the network; certificates from an external volume mounted read-only",
        ),
    }
}
