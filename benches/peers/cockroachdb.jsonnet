// N CockroachDB services for `jsonnet -y --tla-code count=N` (scripts/bench).
local lib = import 'cockroachdb.libsonnet';
function(count=1) std.flattenArrays([
  local s = lib.service(if count == 1 then 'cockroachdb' else 'crdb%d' % i);
  [s.statefulset, s.headless, s.client, s.budget]
  for i in std.range(1, count)
])
