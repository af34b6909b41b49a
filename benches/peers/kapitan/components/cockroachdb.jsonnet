// One target's CockroachDB objects, named by the Kapitan inventory (scripts/bench).
local kap = import 'lib/kapitan.libjsonnet';
local lib = import 'cockroachdb.libsonnet';
local s = lib.service(kap.inventory().parameters.name);
{ statefulset: s.statefulset, headless: s.headless, client: s.client, budget: s.budget }
