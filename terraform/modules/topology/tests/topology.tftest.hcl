# Offline: the topology module has no provider.

variables {
  regions         = ["us-east-1", "us-west-2", "eu-west-1"]
  shards          = 2
  voters          = 5
  primary_regions = ["us-east-1", "us-west-2"]
}

run "names_peers_and_roles" {
  command = plan

  assert {
    condition     = length(output.nodes) == 3 * 2 * 5
    error_message = "expected a node per region, shard and voter"
  }
  assert {
    condition     = output.nodes["us-east-1/0/n1"].host == "n1.s0.us-east-1.meridian.internal"
    error_message = "node names: <member>.s<shard>.<region>.<zone>"
  }
  assert {
    condition     = output.clusters["us-east-1/0"].role == "PRIMARY" && output.clusters["us-west-2/0"].role == "STANDBY"
    error_message = "shard 0 is PRIMARY in us-east-1 only"
  }
  assert {
    condition     = output.clusters["us-west-2/1"].role == "PRIMARY" && output.clusters["us-east-1/1"].role == "STANDBY"
    error_message = "shard 1 is PRIMARY in us-west-2 only"
  }
  assert {
    condition     = length(output.clusters["eu-west-1/1"].endpoints) == 5
    error_message = "every member's client URL is an endpoint"
  }
  assert {
    condition     = length(yamldecode(output.node_configs["eu-west-1/1/n3"]).members) == 5
    error_message = "a node's config lists every member of its cluster"
  }
  assert {
    condition     = yamldecode(output.node_configs["eu-west-1/1/n3"]).members[2].peer == "n3.s1.eu-west-1.meridian.internal:2380"
    error_message = "peer addresses are host:peer-port"
  }
  assert {
    condition     = yamldecode(output.node_configs["us-east-1/0/n1"]).shards[0].role == "PRIMARY"
    error_message = "a node starts its shard in its cluster's role"
  }
  assert {
    condition     = yamldecode(output.router_configs["us-west-2"]).preference == ["us-east-1", "eu-west-1"]
    error_message = "a router falls back through the other regions in order"
  }
  assert {
    condition     = join(",", keys(output.bridge_configs)) == "us-east-1,us-west-2"
    error_message = "a bridge config for each region that is a shard's primary"
  }
}

run "the_routing_table_covers_every_slot_once" {
  command = plan

  variables {
    shards          = 3
    voters          = 3
    primary_regions = []
  }

  assert {
    condition     = [for s in yamldecode(output.routing_table).slots : s.range] == ["0-1364", "1365-2729", "2730-4095"]
    error_message = "slots 0..4095 in contiguous ranges, one per shard"
  }
  assert {
    condition     = alltrue([for s in yamldecode(output.routing_table).shards : length([for r in s.regions : r if r.role == "PRIMARY"]) == 1])
    error_message = "every shard has exactly one PRIMARY region"
  }
}

run "listeners_follow_the_voters" {
  command = plan

  variables {
    voters    = 3
    listeners = 1
  }

  assert {
    condition     = output.nodes["us-east-1/0/l1"].role == "LISTENER" && output.nodes["us-east-1/0/n3"].role == "VOTER"
    error_message = "listeners are l1.., voters n1.."
  }
}

run "bridges_for_the_primaries" {
  command = plan

  variables {
    kafka_bootstrap_servers = "kafka-1:9092"
  }
  assert {
    condition     = [for s in yamldecode(output.bridge_configs["us-west-2"]).shards : s.id] == [1]
    error_message = "us-west-2's bridge ships shard 1"
  }
  assert {
    condition     = yamldecode(output.bridge_configs["us-west-2"]).kafka["bootstrap-servers"] == "kafka-1:9092"
    error_message = "the bridges ship through the Kafka cluster given"
  }
}

run "one_host_with_a_port_stride" {
  command = plan

  variables {
    regions         = ["a", "b"]
    shards          = 1
    voters          = 3
    primary_regions = []
    port_stride     = 2
    ports           = { client = 21000, peer = 21001, router = 21100, bridge = 21101 }
  }

  assert {
    condition = length(distinct(concat(
      flatten([for n in values(output.nodes) : [n.client_port, n.peer_port]]),
      [for r in values(output.routers) : r.port],
      [for b in values(output.bridges) : b.port],
    ))) == 6 * 2 + 2 + 2
    error_message = "every process on one host has ports of its own"
  }
}

run "an_even_voter_count_is_refused" {
  command = plan

  variables {
    voters = 4
  }

  expect_failures = [var.voters]
}

run "an_unknown_primary_region_is_refused" {
  command = plan

  variables {
    primary_regions = ["ap-south-1"]
  }

  expect_failures = [var.primary_regions]
}

run "an_empty_region_list_is_refused" {
  command = plan

  variables {
    regions         = []
    primary_regions = []
  }

  expect_failures = [var.regions]
}
