set -eu
cd "$(dirname "$0")"

kube() {
  kubectl --namespace "$namespace" "$@"
}

# Runs a command inside a member's running container, quietly (a check asks it many times).
inside() {
  member=$1
  shift
  kube exec "$member" --container "$container" -- "$@"
}

# A one-off pod would need the namespace's pod security and network policy to let it reach the
# members: a running member's container, of the same image and on the same network, serves.
oneoff() {
  inside "$@"
}

# Whether a member's pod runs and is ready.
healthy() {
  [ "$(kube get pod "$1" --output 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

# Deletes a member's pod and waits until it is gone; the StatefulSet makes it again from its
# current definition.
recreate() {
  run kube delete pod "$1" --wait=true
}

# Stops the plan before its first step unless the node of pod $1 is gone: no longer a node, or
# one whose kubelet no longer reports (`Ready` is `Unknown`). The pod is deleted by force, which
# on a node that still runs it would run the member twice; what cannot be read stops the plan.
need_node_down() {
  if ! node=$(kube get pod "$1" --ignore-not-found --output 'jsonpath={.spec.nodeName}'); then
    printf 'berth plan stopped before its first step: the pod %s cannot be read to see whether its node is gone\n' "$1" >&2
    exit 1
  fi
  [ -n "$node" ] || return 0
  if ! found=$(kubectl get node "$node" --ignore-not-found --output name) ||
    ! ready=$(kubectl get node "$node" --ignore-not-found --output 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'); then
    printf 'berth plan stopped before its first step: the node %s of %s cannot be read to see whether it is gone\n' "$node" "$1" >&2
    exit 1
  fi
  if [ -n "$found" ] && [ "$ready" != Unknown ]; then
    printf 'berth plan stopped before its first step: %s is named lost, but its node %s still reports (Ready: %s); plan it with --replace, or wait until the node is gone\n' "$1" "$node" "$ready" >&2
    exit 1
  fi
}

# Whether a pod no longer exists.
gone() {
  ! kube get pod "$1" >/dev/null 2>&1
}
