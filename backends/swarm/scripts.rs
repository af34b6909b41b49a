//! The text of `prepare-nodes.sh` and `deploy.sh`: a head that sets the spec's values as shell
//! variables ([`berth_backends_shared::script::Script`] quotes each), then berth's fixed logic
//! (`prepare-nodes-body.sh` and `deploy-body.sh` beside this file), which reads only them.

use berth_backends_shared::script::Script;

/// What `prepare-nodes.sh` needs to know of the service.
pub struct PrepareNodes<'a> {
    pub header: &'a str,
    pub service: &'a str,
    /// The node label of member N is the prefix followed by N.
    pub label_prefix: &'a str,
    pub members: u32,
    pub spread_required: bool,
    /// The nodes the spec names, the script's arguments when it is given none.
    pub default_nodes: &'a [String],
}

/// `prepare-nodes.sh`: labels one node per member, which the stack's placement constraints name.
pub fn prepare_nodes(p: &PrepareNodes) -> String {
    let mut s = Script::with_capacity(3072);
    s.text("#!/bin/sh\n")
        .comments(p.header)
        .text("#\n# Labels the swarm nodes that hold the members of `")
        .name(p.service)
        .text("`: member N runs only on the node\n# labelled `")
        .name(p.label_prefix)
        .text(
            r#"N=true`, where its local volume lives. Run it on a manager before
# `docker stack deploy`, with one node per member in member order:
#
#   sh prepare-nodes.sh NODE-FOR-MEMBER-0 NODE-FOR-MEMBER-1 ...
#
# Without arguments it uses the nodes named in the spec. With fewer nodes than members (allowed
# only when the spec does not require spread), members go round the nodes in turn.
set -eu

service="#,
        )
        .word(p.service)
        .text("\nlabel_prefix=")
        .word(p.label_prefix)
        .text("\nmembers=")
        .number(p.members.into())
        .text("\nspread_required=")
        .number(p.spread_required.into())
        .text("\nif [ \"$#\" -eq 0 ]; then\n  set -- ")
        .words(p.default_nodes.iter().map(String::as_str))
        .text("\nfi\n")
        .text(include_str!("prepare-nodes-body.sh"));
    s.into_string()
}

/// `deploy.sh`: every member at once the first time, one member at a time afterwards, each
/// `settle` seconds after the one before runs.
/// `shared_network` is the network the stack joins but does not own (`network.name`), which
/// `deploy.sh` creates if no stack did yet.
pub fn deploy(
    header: &str,
    service: &str,
    members: &str,
    settle: u64,
    shared_network: Option<(&str, bool)>,
) -> String {
    let mut s = Script::with_capacity(4096);
    s.text("#!/bin/sh\n")
        .comments(header)
        .text("#\n# Deploys `")
        .name(service)
        .text(
            r#"` as the stack STACK. The first time, every member at once: a cluster forms
# only when its members start together. Afterwards one member at a time (`members/<member>.yaml`),
# each replaced only once the one before runs a new task and has run for "#,
        )
        .number(settle)
        .text(
            r#" seconds, so
# that a majority keeps serving through an update. (`docker stack deploy -c stack.yaml` on a running
# stack would replace every member at once: Swarm orders the tasks of one service, not the services
# of a stack.) Run prepare-nodes.sh first.
#
#   sh deploy.sh STACK [DOCKER-STACK-DEPLOY-OPTION...]     (for example --resolve-image never)
set -eu

service="#,
        )
        .word(service)
        .text("\nmembers=")
        .word(members)
        .text("\nsettle=")
        .number(settle)
        .text("\nshared_network=")
        .word(shared_network.map_or("", |(name, _)| name))
        .text("\nencrypted=")
        .number(
            shared_network
                .is_some_and(|(_, encrypted)| encrypted)
                .into(),
        )
        .text("\n")
        .text(include_str!("deploy-body.sh"));
    s.into_string()
}
