# Provider-free: every name, address, peer list, routing table and process config of a federation,
# computed from its shape. Every other module takes its names from here.

locals {
  # The voters' ids, then the listeners'.
  member_ids = concat(
    [for i in range(var.voters) : "n${i + 1}"],
    [for i in range(var.listeners) : "l${i + 1}"],
  )

  primary_of = [
    for s in range(var.shards) : s < length(var.primary_regions) ? var.primary_regions[s] : var.regions[0]
  ]

  # One cluster per (region, shard), keyed "<region>/<shard>", in region then shard order.
  cluster_keys = flatten([for r in var.regions : [for s in range(var.shards) : "${r}/${s}"]])

  node_keys  = flatten([for c in local.cluster_keys : [for m in local.member_ids : "${c}/${m}"]])
  node_index = { for i, k in local.node_keys : k => i }

  nodes = {
    for k in local.node_keys : k => {
      region = split("/", k)[0]
      shard  = tonumber(split("/", k)[1])
      member = split("/", k)[2]
      role   = startswith(split("/", k)[2], "l") ? "LISTENER" : "VOTER"
      host = lookup(var.hosts, k,
      "${split("/", k)[2]}.s${split("/", k)[1]}.${split("/", k)[0]}.${var.dns_zone}")
      client_port = var.ports.client + local.node_index[k] * var.port_stride
      peer_port   = var.ports.peer + local.node_index[k] * var.port_stride
    }
  }

  # On one host (port_stride > 0) the routers and bridges start past the last node's ports.
  after_nodes = length(local.node_keys) * var.port_stride

  routers = {
    for i, r in var.regions : r => {
      host = lookup(var.hosts, "${r}/router", "router.${r}.${var.dns_zone}")
      port = var.ports.router + local.after_nodes + i * var.port_stride
    }
  }

  bridges = {
    for i, r in var.regions : r => {
      host = lookup(var.hosts, "${r}/bridge", "bridge.${r}.${var.dns_zone}")
      port = var.ports.bridge + local.after_nodes + i * var.port_stride
    }
  }

  clusters = {
    for c in local.cluster_keys : c => {
      region  = split("/", c)[0]
      shard   = tonumber(split("/", c)[1])
      role    = local.primary_of[tonumber(split("/", c)[1])] == split("/", c)[0] ? "PRIMARY" : "STANDBY"
      members = [for m in local.member_ids : local.nodes["${c}/${m}"]]
      endpoints = [
        for m in local.member_ids : "http://${local.nodes["${c}/${m}"].host}:${local.nodes["${c}/${m}"].client_port}"
      ]
    }
  }

  # The slots 0..4095 in contiguous ranges, as even as whole slots allow.
  slot_ranges = [
    for s in range(var.shards) : {
      range = "${floor(s * 4096 / var.shards)}-${floor((s + 1) * 4096 / var.shards) - 1}"
      shard = s
    }
  ]

  routing_table = {
    version = 1
    slots   = local.slot_ranges
    shards = [
      for s in range(var.shards) : {
        id = s
        regions = [
          for r in var.regions : {
            region    = r
            role      = local.clusters["${r}/${s}"].role
            epoch     = 1
            endpoints = local.clusters["${r}/${s}"].endpoints
          }
        ]
      }
    ]
  }

  node_configs = {
    for k, n in local.nodes : k => yamlencode(merge(
      {
        member     = n.member
        region     = n.region
        "data-dir" = "${var.data_dir}/${n.region}/s${n.shard}/${n.member}"
        client     = { host = var.bind_address, port = n.client_port }
        peer       = { host = var.bind_address, port = n.peer_port }
        members = [
          for m in local.clusters["${n.region}/${n.shard}"].members : {
            id     = m.member
            peer   = "${m.host}:${m.peer_port}"
            client = "http://${m.host}:${m.client_port}"
            role   = m.role
          }
        ]
        shards = [{ id = n.shard, role = local.clusters["${n.region}/${n.shard}"].role, epoch = 1 }]
      },
      var.backup_dir == "" ? {} : { backup = { dir = var.backup_dir } },
      length(var.regions) > 1 ? { replication = { "write-authority-ms" = var.write_authority_ms } } : {},
    ))
  }

  router_configs = {
    for r in var.regions : r => yamlencode({
      region     = r
      listen     = { host = var.bind_address, port = local.routers[r].port }
      table      = "routing-table.yaml"
      preference = [for o in var.regions : o if o != r]
    })
  }

  # The bridge of a region ships the shards whose primary is there at the start; it follows the
  # regions' roles (`regions`), so it keeps shipping each of them after a failover. Which regions
  # have one depends on the shape only (not on the Kafka address, which may be known only after
  # apply), so downstream counts are known at plan.
  bridge_configs = length(var.regions) < 2 ? {} : {
    for r in var.regions : r => yamlencode({
      listen = { host = var.bind_address, port = local.bridges[r].port }
      kafka  = { "bootstrap-servers" = var.kafka_bootstrap_servers }
      shards = [
        for s in range(var.shards) : {
          id      = s
          regions = { for o in var.regions : o => local.clusters["${o}/${s}"].endpoints }
        } if local.primary_of[s] == r
      ]
    }) if contains(local.primary_of, r)
  }
}
