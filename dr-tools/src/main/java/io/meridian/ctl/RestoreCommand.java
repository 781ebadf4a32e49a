package io.meridian.ctl;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.SnapshotManifest;
import io.meridian.bridge.BridgeConfig;
import io.meridian.bridge.ChangeArchive;
import io.meridian.cluster.backup.RestoredMember;
import io.meridian.cluster.backup.SnapshotFile;
import io.meridian.cluster.config.ClusterIdentity;
import io.meridian.cluster.state.ShardState;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code meridianctl restore}: a point-in-time restore of one shard from a snapshot file and the
 * shard's change topic (see {@link PointInTimeRestore}).
 */
@Command(
    name = "restore",
    mixinStandardHelpOptions = true,
    description = {
      "Point-in-time restore of the shard --shard names: verifies the snapshot file, reads the"
          + " shard's change topic (read_committed) and applies the revisions after the"
          + " snapshot's up to --to-revision, or up to the last one committed at or before"
          + " --to-time, with a standby's checks on every batch (no revision missing, the chain"
          + " hash extended, epochs only forward).",
      "--dry-run prints the plan and the state it reaches (key count, state hash) and writes"
          + " nothing. Otherwise it writes one member's data directory of a new cluster (as"
          + " snapshot restore does): run it once per member with the same options but"
          + " --data-dir and --member. The restored state keeps the snapshot's role."
    })
final class RestoreCommand implements Callable<Integer> {
  @ParentCommand Meridianctl root;
  @Spec CommandSpec spec;

  @ArgGroup(exclusive = true, multiplicity = "1")
  TargetOption target;

  static final class TargetOption {
    @Option(
        names = "--to-revision",
        paramLabel = "R",
        required = true,
        description = "Restore the shard as it was at revision R.")
    Long revision;

    @Option(
        names = "--to-time",
        paramLabel = "T",
        required = true,
        converter = InstantMillis.class,
        description =
            "Restore the last revision committed at or before T: an ISO-8601 instant"
                + " (2026-12-02T05:30:00Z) or milliseconds since the epoch.")
    Long timeMs;
  }

  @Option(
      names = "--snapshot",
      required = true,
      paramLabel = "FILE",
      description = "The snapshot file to start from (meridianctl snapshot save).")
  Path snapshot;

  @Option(
      names = "--kafka",
      required = true,
      paramLabel = "BOOTSTRAP",
      description = "The Kafka cluster holding the change topic, host:port[,host:port...].")
  String kafka;

  @Option(
      names = "--topic",
      paramLabel = "NAME",
      description = "The change topic to read (default: meridian.<shard>.changes).")
  String topic;

  @Option(
      names = "--kafka-property",
      paramLabel = "KEY=VALUE",
      description = "A Kafka client setting, as the bridge's kafka.properties (repeatable).")
  Map<String, String> kafkaProperties = new LinkedHashMap<>();

  @Option(names = "--dry-run", description = "Print the plan and the result; write nothing.")
  boolean dryRun;

  @Option(
      names = "--data-dir",
      paramLabel = "DIR",
      description = "The new member's data directory to create: missing or empty (not --dry-run).")
  Path dataDir;

  @Option(
      names = "--member",
      paramLabel = "ID",
      description = "The member this directory is for, one of --peers (not --dry-run).")
  String member;

  @Option(
      names = "--peers",
      paramLabel = "ID=HOST:PORT,...",
      description = "Every voter of the new cluster with its Raft peer address (not --dry-run).")
  String peers;

  @Option(
      names = "--region",
      paramLabel = "R",
      description = "The new cluster's region (default: the snapshot's).")
  String region;

  @Option(
      names = "--cluster-token",
      paramLabel = "T",
      description =
          "The new cluster's token (default: p- and 16 hex digits of the chain hash at the"
              + " target revision, so every member restored to that revision agrees).")
  String token;

  @Override
  public Integer call() {
    Integer shard = root.shard();
    if (shard == null) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "--shard: required (the shard to restore)");
    }
    List<RestoredMember.Peer> voters = dryRun ? List.of() : checkWriteOptions();
    SnapshotFile.Verified verified = verify(shard);
    String name = topic != null ? topic : BridgeConfig.topic(shard);
    PointInTimeRestore.Plan plan;
    try (ChangeArchive archive = ChangeArchive.open(kafka, name, kafkaProperties)) {
      plan =
          PointInTimeRestore.run(
              verified, archive, new PointInTimeRestore.Target(target.revision, target.timeMs));
    }
    Written written = null;
    if (!dryRun) {
      String in = region != null ? region : verified.manifest().getRegion();
      String cluster = token != null ? token : defaultToken(plan.state());
      Path group;
      try {
        group = RestoredMember.write(plan.state(), dataDir, member, voters, in, cluster);
      } catch (IOException e) {
        throw MeridianException.of(
            Error.Code.INTERNAL, "--data-dir %s: could not write it (%s)", dataDir, e);
      }
      written = new Written(in, cluster, group.getFileName().toString());
    }
    print(spec.commandLine().getOut(), plan, written);
    return 0;
  }

  /** What was written: the member's region, cluster token and Raft group directory. */
  private record Written(String region, String token, String group) {}

  /** The options writing needs, checked before the topic is read; returns the voters. */
  private List<RestoredMember.Peer> checkWriteOptions() {
    for (Object[] required :
        new Object[][] {{"--data-dir", dataDir}, {"--member", member}, {"--peers", peers}}) {
      if (required[1] == null) {
        throw new CommandLine.ParameterException(
            spec.commandLine(),
            required[0] + ": required to write a member's data directory (or give --dry-run)");
      }
    }
    List<RestoredMember.Peer> voters;
    try {
      voters = RestoredMember.Peer.parseList(peers);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--peers: " + e.getMessage());
    }
    if (voters.stream().noneMatch(p -> p.id().equals(member))) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          "--member: "
              + member
              + " (expected: one of --peers "
              + voters.stream().map(RestoredMember.Peer::id).toList()
              + ")");
    }
    if (token != null && (token.isEmpty() || !ClusterIdentity.TOKEN.matcher(token).matches())) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          "--cluster-token: '" + token + "' (expected: 1..64 letters, digits, '.', '_' or '-')");
    }
    // The writer refuses it too; checked here as well so a long replay is not wasted on it.
    try (Stream<Path> entries = Files.isDirectory(dataDir) ? Files.list(dataDir) : Stream.empty()) {
      if (entries.findAny().isPresent()) {
        throw MeridianException.of(
            Error.Code.FAILED_PRECONDITION,
            "--data-dir %s is not empty (expected: a missing or empty directory; a restore never"
                + " writes over a member's data)",
            dataDir);
      }
    } catch (IOException e) {
      throw MeridianException.of(
          Error.Code.FAILED_PRECONDITION, "--data-dir %s: cannot be read (%s)", dataDir, e);
    }
    return voters;
  }

  /** {@code p-} and the first 16 hex digits of the chain hash at the target revision. */
  static String defaultToken(ShardState state) {
    return "p-"
        + HexFormat.of()
            .formatHex(state.replicationState().getChainHash().toByteArray())
            .substring(0, 16);
  }

  private SnapshotFile.Verified verify(int shard) {
    SnapshotFile.Verified verified;
    try {
      verified = SnapshotFile.verify(snapshot);
    } catch (IOException e) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT, "--snapshot %s: %s", snapshot, e.getMessage());
    }
    if (verified.manifest().getShard() != shard) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "--snapshot %s is of shard %d (expected: %d, the shard --shard names)",
          snapshot,
          verified.manifest().getShard(),
          shard);
    }
    return verified;
  }

  private void print(PrintWriter out, PointInTimeRestore.Plan plan, Written written) {
    SnapshotManifest snap = plan.snapshot();
    ShardState state = plan.state();
    String hash = HexFormat.of().formatHex(state.contentHash());
    long keys = state.stats().keys();
    ObjectNode json = JsonNodeFactory.instance.objectNode();
    json.put("snapshotRevision", snap.getRevision());
    json.put("snapshotEpoch", snap.getEpoch());
    json.put("topic", plan.topic());
    json.put("topicFirstRevision", plan.firstRevision());
    json.put("topicLastRevision", plan.lastRevision());
    json.put("coveredFrom", snap.getRevision());
    json.put("coveredTo", plan.coveredTo());
    json.put("batches", plan.batches());
    json.put("firstOffset", plan.replayOffsetFrom());
    json.put("lastOffset", plan.replayOffsetTo());
    json.put("targetRevision", plan.target());
    json.put("commitTimeMs", plan.commitTimeMs());
    json.put("epoch", state.epoch());
    json.put("keys", keys);
    json.put("leases", state.leases("").size());
    json.put("stateHash", hash);
    json.put("role", state.role().name());
    json.put("dryRun", dryRun);
    if (written != null) {
      json.put("dataDir", dataDir.toString());
      json.put("member", member);
      json.put("region", written.region());
      json.put("clusterToken", written.token());
      json.put("group", written.group());
    }

    Output.Table t = new Output.Table("STEP", "DETAIL");
    t.row(
        "snapshot",
        String.format(
            "%s: shard %d, revision %d, epoch %d, role %s, committed %s",
            snapshot,
            snap.getShard(),
            snap.getRevision(),
            snap.getEpoch(),
            snap.getRole(),
            Instant.ofEpochMilli(snap.getCommitTimeMs())));
    t.row(
        "topic",
        plan.lastRevision() < 0
            ? plan.topic() + " holds no batch"
            : String.format(
                "%s holds revisions %d..%d; with the snapshot it covers revisions %d..%d",
                plan.topic(),
                plan.firstRevision(),
                plan.lastRevision(),
                snap.getRevision(),
                plan.coveredTo()));
    t.row(
        "replay",
        plan.batches() == 0
            ? "no batch (the target is the snapshot's revision)"
            : String.format(
                "revisions %d..%d: %d batches, offsets %d..%d",
                snap.getRevision() + 1,
                plan.target(),
                plan.batches(),
                plan.replayOffsetFrom(),
                plan.replayOffsetTo()));
    t.row(
        "target",
        String.format(
            "revision %d, epoch %d, committed %s%s",
            plan.target(),
            state.epoch(),
            Instant.ofEpochMilli(plan.commitTimeMs()),
            plan.pastLastCommit()
                ? " (the topic's last revision: anything the primary committed later was not"
                    + " shipped)"
                : ""));
    t.row("result", String.format("%d keys, state hash %s", keys, hash));
    t.row(
        "role",
        state.role()
            + " (the snapshot's; change it with the role command, SetRole, once the members"
            + " run)");
    t.row(
        "written",
        written == null
            ? "nothing (--dry-run)"
            : String.format(
                "member %s: %s (Raft group %s), region %s, cluster token %s",
                member, dataDir, written.group(), written.region(), written.token()));
    root.output(out).print(json, t);
  }

  /** An ISO-8601 instant or milliseconds since the epoch, as milliseconds. */
  static final class InstantMillis implements CommandLine.ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
      if (value.chars().allMatch(Character::isDigit) && !value.isEmpty()) {
        return Long.parseLong(value);
      }
      try {
        return Instant.parse(value).toEpochMilli();
      } catch (DateTimeParseException e) {
        throw new CommandLine.TypeConversionException(
            "'"
                + value
                + "' (expected: an ISO-8601 instant such as 2026-12-02T05:30:00Z, or milliseconds"
                + " since the epoch)");
      }
    }
  }
}
