package io.meridian.cluster;

import com.linecorp.armeria.server.Server;
import com.linecorp.armeria.server.ServerBuilder;
import io.meridian.cluster.backup.BackupSchedule;
import io.meridian.cluster.config.ClusterIdentity;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.cluster.internal.NodeClock;
import io.meridian.cluster.internal.Shards;
import io.meridian.cluster.kv.KvService;
import io.meridian.cluster.lease.LeaseService;
import io.meridian.cluster.lock.LockService;
import io.meridian.cluster.node.Membership;
import io.meridian.cluster.node.Proposals;
import io.meridian.cluster.node.ShardReplica;
import io.meridian.cluster.raft.ResyncingGrpc;
import io.meridian.cluster.raft.ShardStateMachine;
import io.meridian.cluster.registry.RegistryService;
import io.meridian.cluster.replication.ReplicationService;
import io.meridian.cluster.watch.WatchService;
import io.meridian.serving.ApiServer;
import io.meridian.serving.HttpWatch;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.GroupManagementRequest;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.retry.MultipleLinearRandomRetry;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.util.ExitUtils;
import org.apache.ratis.util.SizeInBytes;
import org.apache.ratis.util.TimeDuration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Meridian node: one Ratis server (the peer port) hosting a Raft group per shard it replicates,
 * and one Armeria server (the client port) serving gRPC, HTTP/JSON ({@code /v1/...}), {@code
 * /health}, {@code /metrics} and {@code /docs}. Any node accepts any request: writes and
 * linearizable reads go to the shard's leader through Ratis.
 */
public final class MeridianNode implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MeridianNode.class);

  private final NodeConfig config;
  private final RaftServer raftServer;
  private final List<ShardReplica> replicas = new ArrayList<>();
  private final Server httpServer;
  private final ClusterService clusterService;
  private final ScheduledExecutorService duties;
  private final PrometheusMeterRegistry metrics;
  private final BackupSchedule backups;

  private MeridianNode(NodeConfig config, NodeClock clock) throws IOException {
    this.config = config;
    this.metrics = ApiServer.newMeterRegistry();
    this.duties =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "meridian-duties-" + config.member());
              t.setDaemon(true);
              return t;
            });
    RaftProperties properties = raftProperties(config);
    Parameters parameters = ResyncingGrpc.parameters(config.peerTls());
    String token = ClusterIdentity.resolve(config);
    if (!token.isEmpty()) {
      log.info(
          "member={} region={} cluster token {} (restored cluster)",
          config.member(),
          config.region(),
          token);
    }
    Map<RaftGroupId, ShardStateMachine> machines = new LinkedHashMap<>();
    Map<RaftGroupId, NodeConfig.ShardSpec> specs = new LinkedHashMap<>();
    for (NodeConfig.ShardSpec spec : config.shards()) {
      RaftGroupId groupId = groupId(config.region(), spec.id(), token);
      machines.put(groupId, new ShardStateMachine(spec.id(), clock));
      specs.put(groupId, spec);
    }
    RaftPeerId self = RaftPeerId.valueOf(config.member());
    this.raftServer =
        RaftServer.newBuilder()
            .setServerId(self)
            .setProperties(properties)
            .setParameters(parameters)
            .setStateMachineRegistry(machines::get)
            .setOption(RaftStorage.StartupOption.RECOVER)
            .build();
    raftServer.start();
    List<RaftPeer> peers = peers(config);
    List<RaftGroupId> existing = new ArrayList<>();
    raftServer.getGroupIds().forEach(existing::add);
    AtomicLong callId = new AtomicLong();
    ClientId adminClient = ClientId.randomId();
    for (var e : specs.entrySet()) {
      RaftGroup group = RaftGroup.valueOf(e.getKey(), peers);
      if (!existing.contains(e.getKey())) {
        var reply =
            raftServer.groupManagement(
                GroupManagementRequest.newAdd(
                    adminClient, self, callId.incrementAndGet(), group, true));
        if (!reply.isSuccess()) {
          throw new IOException(
              "cannot add group of shard " + e.getValue().id(), reply.getException());
        }
      }
      java.util.function.Supplier<RaftClient> client =
          () ->
              RaftClient.newBuilder()
                  .setRaftGroup(group)
                  .setLeaderId(null)
                  .setProperties(properties)
                  .setParameters(parameters)
                  // Every 20 ms for the first second, so a write forwarded while the shard
                  // elects reaches the new leader as soon as it is up; then every 100 ms, for
                  // about 7 s in all.
                  .setRetryPolicy(
                      MultipleLinearRandomRetry.parseCommaSeparated("20ms,50, 100ms,60"))
                  .build();
      replicas.add(
          new ShardReplica(
              config,
              e.getValue(),
              raftServer,
              e.getKey(),
              machines.get(e.getKey()),
              client,
              parameters,
              clock,
              duties,
              metrics));
    }
    this.backups = BackupSchedule.start(config, replicas, clock, metrics);
    Shards<ShardReplica> shards = new Shards<>(replicas);
    this.clusterService = new ClusterService(shards, config);
    this.httpServer = httpServer(config, shards, clusterService, metrics);
    httpServer.start().join();
    log.info(
        "member={} region={} serving shards {} on {} (peer {})",
        config.member(),
        config.region(),
        config.shards().stream().map(NodeConfig.ShardSpec::id).toList(),
        clientUrl(),
        config.self().peer());
  }

  /** Starts a node; returns when both servers listen. */
  public static MeridianNode start(NodeConfig config, NodeClock clock) throws IOException {
    // Ratis calls System.exit on some failures and installs a JVM-wide uncaught-exception handler
    // that exits; a node that embeds it must stay up and report instead.
    ExitUtils.disableSystemExit();
    ExitUtils.setTerminateOnUncaughtException(false);
    if (java.util.concurrent.ForkJoinPool.getCommonPoolParallelism() < 2) {
      log.warn(
          "member={} the common pool has {} thread: Ratis starts a thread per forwarded read."
              + " Start the JVM with -Djava.util.concurrent.ForkJoinPool.common.parallelism=2"
              + " (bin/meridian does)",
          config.member(),
          java.util.concurrent.ForkJoinPool.getCommonPoolParallelism());
    }
    return new MeridianNode(config, clock);
  }

  /**
   * The Raft group of {@code shard} in {@code region} of a cluster without a token: the same id on
   * every member.
   */
  public static RaftGroupId groupId(String region, int shard) {
    return groupId(region, shard, "");
  }

  /**
   * The Raft group of {@code shard} in {@code region} of the cluster with {@code token} (see {@link
   * ClusterIdentity}): the same id on every member of that cluster, and another for any other
   * token.
   */
  public static RaftGroupId groupId(String region, int shard, String token) {
    return RaftGroupId.valueOf(ClusterIdentity.groupUuid(region, shard, token));
  }

  private static List<RaftPeer> peers(NodeConfig config) {
    List<RaftPeer> peers = new ArrayList<>();
    for (NodeConfig.Member m : config.members()) {
      peers.add(
          Membership.peer(
              m.id(),
              m.peer(),
              m.client(),
              m.role() == NodeConfig.MemberRole.LISTENER
                  ? RaftPeerRole.LISTENER
                  : RaftPeerRole.FOLLOWER));
    }
    return peers;
  }

  private static RaftProperties raftProperties(NodeConfig config) {
    RaftProperties p = new RaftProperties();
    // Ratis's gRPC transport, with a log appender that lets a restarted follower catch up.
    ResyncingGrpc.select(p);
    GrpcConfigKeys.Server.setHost(p, config.peer().host());
    GrpcConfigKeys.Server.setPort(p, config.peer().port());
    RaftServerConfigKeys.setStorageDir(p, List.of(Path.of(config.dataDir(), "raft").toFile()));
    var raft = config.raft();
    RaftServerConfigKeys.Rpc.setTimeoutMin(
        p,
        TimeDuration.valueOf(
            raft.electionTimeoutMinMs(), java.util.concurrent.TimeUnit.MILLISECONDS));
    RaftServerConfigKeys.Rpc.setTimeoutMax(
        p,
        TimeDuration.valueOf(
            raft.electionTimeoutMaxMs(), java.util.concurrent.TimeUnit.MILLISECONDS));
    RaftServerConfigKeys.Snapshot.setAutoTriggerEnabled(p, true);
    RaftServerConfigKeys.Snapshot.setAutoTriggerThreshold(p, raft.snapshotThreshold());
    RaftServerConfigKeys.Snapshot.setRetentionFileNum(p, 2);
    RaftServerConfigKeys.Log.setPurgeUptoSnapshotIndex(p, true);
    RaftServerConfigKeys.Log.setPurgeGap(p, raft.purgeGap());
    RaftServerConfigKeys.Log.setSegmentSizeMax(p, SizeInBytes.valueOf(raft.logSegmentSizeBytes()));
    // No metadata entry per commit (Ratis appends one each time the commit index moves, doubling
    // the entries per write at low concurrency). It only lets a restarted member apply committed
    // entries before it hears from a leader; what is committed, and when a write is acknowledged
    // (after a majority's fsync), does not change. Ozone turned it off for the same reason.
    RaftServerConfigKeys.Log.setLogMetadataEnabled(p, false);
    // Reads go to the leader, which confirms its leadership with the log before answering
    // (ReadBarriers): Ratis 3.3.0's read index lets a cut-off leader answer from stale state.
    RaftServerConfigKeys.Read.setOption(p, RaftServerConfigKeys.Read.Option.DEFAULT);
    // A leader that stepped down refuses to stand for election for this long (10 s by default):
    // if the next leader is cut off meanwhile and the remaining follower's log is shorter, no one
    // can win. Not 0: the same setting is the JVM pause after which a leader steps down.
    RaftServerConfigKeys.LeaderElection.setLeaderStepDownWaitTime(
        p, TimeDuration.valueOf(1, java.util.concurrent.TimeUnit.SECONDS));
    // A follower behind or with a divergent tail is brought back one round trip per step: back off
    // to 100 ms, not Ratis's 1 s then 5 s, so a tail of a few hundred entries takes seconds.
    RaftServerConfigKeys.Log.Appender.setRetryPolicy(p, "1ms,10, 100ms,100, 1s,1000");
    // The largest entry is a request of Limits.MAX_REQUEST_BYTES; gRPC messages must exceed the
    // appender's buffer by at least 1 MB.
    RaftServerConfigKeys.Log.Appender.setBufferByteLimit(p, SizeInBytes.valueOf("4MB"));
    GrpcConfigKeys.setMessageSizeMax(p, SizeInBytes.valueOf("6MB"));
    // Snapshots go to a lagging follower in chunks of this size (Ratis's default is 16 MB): it must
    // fit in one gRPC message, or a snapshot above 6 MB can never be installed and the follower
    // never catches up once the leader has purged its log.
    RaftServerConfigKeys.Log.Appender.setSnapshotChunkSizeMax(p, SizeInBytes.valueOf("4MB"));
    // The Raft client blocks the sending thread (a server event loop) once this many async
    // requests are outstanding; ShardReplica fails writes fast before that happens.
    RaftClientConfigKeys.Async.setOutstandingRequestsMax(p, Proposals.MAX_WRITES_IN_FLIGHT + 64);
    RaftClientConfigKeys.Rpc.setRequestTimeout(
        p, TimeDuration.valueOf(3, java.util.concurrent.TimeUnit.SECONDS));
    return p;
  }

  private static Server httpServer(
      NodeConfig config,
      Shards shards,
      ClusterService clusterService,
      PrometheusMeterRegistry metrics) {
    WatchService watch = new WatchService(shards, config.watch().maxPendingBytes(), metrics);
    RegistryService registry = new RegistryService(shards, config, metrics);
    ServerBuilder server = Server.builder();
    config
        .tls()
        .listen(
            server, new InetSocketAddress(config.client().host(), config.client().port()), metrics);
    return ApiServer.serve(
            server,
            List.of(
                new KvService(shards),
                new LeaseService(shards, config.lease()),
                new LockService(shards, config.lock()),
                clusterService,
                watch,
                registry,
                new ReplicationService(shards)),
            metrics,
            "meridian.request")
        .annotatedService(new HttpWatch(watch.http(), registry.httpWatch()))
        .build();
  }

  public String clientUrl() {
    return config.tls().scheme() + "://" + config.client().host() + ":" + clientPort();
  }

  /** The client port this node listens on. */
  public int clientPort() {
    return ApiServer.port(httpServer);
  }

  public NodeConfig config() {
    return config;
  }

  public List<ShardReplica> replicas() {
    return replicas;
  }

  public RaftServer raftServer() {
    return raftServer;
  }

  /** The node's scheduled backups (see {@link BackupSchedule}). */
  public BackupSchedule backups() {
    return backups;
  }

  public PrometheusMeterRegistry metrics() {
    return metrics;
  }

  @Override
  public void close() {
    log.info("member={} region={} stopping", config.member(), config.region());
    httpServer.stop().join();
    backups.close();
    clusterService.close();
    for (ShardReplica r : replicas) {
      try {
        r.close();
      } catch (IOException e) {
        log.warn("member={} closing shard {}: {}", config.member(), r.shard(), e.toString());
      }
    }
    try {
      raftServer.close();
    } catch (IOException e) {
      log.warn("member={} closing raft server: {}", config.member(), e.toString());
    }
    duties.shutdownNow();
    metrics.close();
  }
}
