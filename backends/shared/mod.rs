//! What several backends share, each module named for what it is, not for a backend: lowering
//! for backends on one Docker engine or a swarm of them (`single_host`: member naming, units,
//! health commands, published ports, the compose format's text and the single-host rules),
//! `[[files]]` written beside a script or compose file (`files`, with the content hash that names
//! a changed file), the Kubernetes releases berth targets (`kubernetes_release`), the writer of
//! berth's own shell scripts (`script`, which quotes every value), and `plan.sh` of `berth plan`
//! (`plan`). Shell quoting is the model's (`berth_model::shell`): start scripts use it too.
//! Not a backend: the registry lists it as a module, not in `all()`.

pub mod files;
pub mod kubernetes_release;
pub mod plan;
pub mod script;
pub mod single_host;
